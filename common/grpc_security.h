// TLS and bearer tokens for deepevolve's gRPC connections.
//
// The master serves one port with TLS from PEM files. Workers prove themselves with a
// client certificate signed by the CA the master is given (mutual TLS); clients (the
// CLI, scripts) send a bearer token. Plaintext happens only when asked for with
// --insecure, and the master warns when it serves it.
#ifndef DEEPEVOLVE_COMMON_GRPC_SECURITY_H_
#define DEEPEVOLVE_COMMON_GRPC_SECURITY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace deepevolve {

// How a client or worker connects.
struct ClientSecurity {
  bool insecure = false;  // plaintext
  std::string ca_file;    // PEM roots to trust; empty: the system's
  std::string cert_file;  // PEM client certificate (workers)
  std::string key_file;   // its private key
  std::string token;      // bearer token (clients); never logged
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientSecurity& security);

// Adds "authorization: Bearer <token>" to a call, when there is a token.
void AddToken(grpc::ClientContext& context, const std::string& token);

// How the master serves.
struct ServerSecurity {
  bool insecure = false;
  std::string cert_file, key_file;  // the master's certificate and key (PEM)
  std::string client_ca_file;       // CA that signs worker certificates (PEM)
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security);

// The whole of a small file, for PEM files and tokens; errors name the file and `what`
// it should have held.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& what);

// The subject common name of the PEM certificate at `path`: the name a master with
// mutual TLS knows a worker by. INVALID_ARGUMENT naming the file when it holds no
// certificate or the certificate no common name.
absl::StatusOr<std::string> CertificateName(const std::string& path);

// A token from a file: its first line without surrounding whitespace. An empty token is
// an error naming the file.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_GRPC_SECURITY_H_
