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
};

// Writes ca.pem, ca.key, master.pem, master.key, worker.pem, worker.key and token
// (keys and token readable by the owner only). Refuses to overwrite an existing CA.
absl::Status MakeCerts(const CertsOptions& options);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_CERTS_H_
