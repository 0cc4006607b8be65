// The command-line flags every program that dials the master shares.
#ifndef DEEPEVOLVE_COMMON_SECURITY_FLAGS_H_
#define DEEPEVOLVE_COMMON_SECURITY_FLAGS_H_

#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "common/grpc_security.h"

namespace deepevolve {

// --insecure and --tls-ca, with $DEEPEVOLVE_INSECURE and $DEEPEVOLVE_TLS_CA as
// defaults; workers also get --tls-cert and --tls-key (their client certificate).
inline void AddClientSecurityFlags(CLI::App* app, ClientSecurity* security, bool worker) {
  if (const char* ca = std::getenv("DEEPEVOLVE_TLS_CA")) security->ca_file = ca;
  if (const char* insecure = std::getenv("DEEPEVOLVE_INSECURE")) {
    security->insecure = std::string(insecure) == "1";
  }
  app->add_flag("--insecure", security->insecure,
                "plaintext to the master, no TLS ($DEEPEVOLVE_INSECURE=1)");
  app->add_option("--tls-ca", security->ca_file,
                  "CA certificate (PEM) to trust for the master ($DEEPEVOLVE_TLS_CA; "
                  "default: the system's)");
  if (worker) {
    app->add_option("--tls-cert", security->cert_file,
                    "this worker's client certificate (PEM), signed by the master's CA");
    app->add_option("--tls-key", security->key_file, "its private key (PEM)");
  }
}

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_SECURITY_FLAGS_H_
