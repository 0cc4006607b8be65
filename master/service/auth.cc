#include "master/service/auth.h"

#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace deepevolve::master {

bool Authorizer::TokenMatches(const std::string& presented) const {
  if (token_.empty()) return true;
  // Compared in constant time, so the answer's timing does not reveal the token.
  return presented.size() == token_.size() &&
         CRYPTO_memcmp(presented.data(), token_.data(), token_.size()) == 0;
}

grpc::Status Authorizer::CheckBearer(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  if (token_.empty()) return grpc::Status::OK;
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this master needs a bearer token (--token-file or $DEEPEVOLVE_TOKEN)");
  }
  const std::string value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(value, kBearer) || !TokenMatches(value.substr(kBearer.size()))) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong bearer token");
  }
  return grpc::Status::OK;
}

grpc::Status Authorizer::CheckClient(const grpc::ServerContext* context) const {
  return CheckBearer(context->client_metadata());
}

grpc::Status Authorizer::CheckWorker(const grpc::ServerContext* context,
                                     const std::string& worker_id) const {
  if (!require_worker_certificate_) return grpc::Status::OK;
  const auto auth = context->auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "workers need a client certificate signed by the master's CA "
                        "(--tls-cert and --tls-key)");
  }
  const std::vector<grpc::string_ref> names = auth->FindPropertyValues("x509_common_name");
  const std::string name = names.empty() ? "" : std::string(names[0].data(), names[0].size());
  if (name.empty() ||
      (worker_id != name && !absl::StartsWith(worker_id, absl::StrCat(name, "/")))) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("this worker's certificate is for '", name, "': its worker id must be '", name,
                     "' or '", name, "/<anything>', not '", worker_id.substr(0, 256), "'"));
  }
  return grpc::Status::OK;
}

grpc::Status PreAuthProcessor::Process(const InputMetadata& metadata, grpc::AuthContext* context,
                                       OutputMetadata*, OutputMetadata*) {
  auto path = metadata.find(":path");
  if (path == metadata.end()) return grpc::Status::OK;  // the handler decides
  const absl::string_view method(path->second.data(), path->second.size());
  // Reflection tells what the SearchService offers: the same token.
  if (absl::StartsWith(method, "/deepevolve.v1.SearchService/") ||
      absl::StartsWith(method, "/grpc.reflection.")) {
    return auth_.CheckBearer(metadata);
  }
  if (absl::StartsWith(method, "/deepevolve.v1.WorkerService/") &&
      auth_.requires_worker_certificate() &&
      (context == nullptr || !context->IsPeerAuthenticated())) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "workers need a client certificate signed by the master's CA "
                        "(--tls-cert and --tls-key)");
  }
  return grpc::Status::OK;
}

}  // namespace deepevolve::master
