// `deepevolve certs`: a development CA, a master certificate, a worker certificate and a
// bearer token, made with OpenSSL — enough to run a master with TLS everywhere. For
// production, use certificates from your own CA; the files have the same roles.
#ifndef DEEPEVOLVE_CLI_CERTS_H_
#define DEEPEVOLVE_CLI_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace deepevolve::cli {

struct CertsOptions {
  std::string out_dir = "deepevolve-certs";
  // Names and addresses the master is reached by (subjectAltName of its certificate).
  std::vector<std::string> hosts = {"localhost", "127.0.0.1"};
  int days = 365;
  // Workers to make a certificate each for (worker-NAME.pem, .key), named NAME: a
  // master with mutual TLS takes a worker's id from its certificate (NAME or NAME/...).
  std::vector<std::string> workers;
};

// Writes ca.pem, ca.key, master.pem, master.key, worker.pem, worker.key (a worker
// certificate named "deepevolve-worker", for workers that share one), worker-NAME.pem
// and .key for each of `workers`, and token (keys and token readable by the owner only).
// Refuses to overwrite an existing CA; INVALID_ARGUMENT for a worker name that is not a
// plain name.
absl::Status MakeCerts(const CertsOptions& options);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_CERTS_H_
