// Who may call the master: clients with the bearer token, workers with a client
// certificate the master's TLS layer verified against its CA (mutual TLS).
#ifndef DEEPEVOLVE_MASTER_SERVICE_AUTH_H_
#define DEEPEVOLVE_MASTER_SERVICE_AUTH_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include <map>
#include <string>

namespace deepevolve::master {

class Authorizer {
 public:
  // An empty token lets any client in; require_worker_certificate is for TLS ports.
  Authorizer(std::string token, bool require_worker_certificate)
      : token_(std::move(token)), require_worker_certificate_(require_worker_certificate) {}

  // OK, or UNAUTHENTICATED saying what is missing (never echoing a token).
  grpc::Status CheckClient(const grpc::ServerContext* context) const;
  // With mutual TLS: the caller presented a certificate the TLS layer verified, and
  // `worker_id` is that certificate's name (its subject's common name) or starts with
  // it and "/" ("gpu-node-1/host-0": one certificate serves a machine's workers).
  // UNAUTHENTICATED without a certificate, PERMISSION_DENIED naming both for another id.
  // Without mutual TLS (--insecure) any id is taken as given.
  grpc::Status CheckWorker(const grpc::ServerContext* context, const std::string& worker_id) const;
  // For HTTP: the value of an Authorization header (or a token from elsewhere).
  bool TokenMatches(const std::string& presented) const;
  bool needs_token() const { return !token_.empty(); }
  bool requires_worker_certificate() const { return require_worker_certificate_; }
  // The token check on a call's metadata (its "authorization" entry, "Bearer ..."):
  // CheckClient's, and the PreAuthProcessor's before the message is read.
  grpc::Status CheckBearer(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;

 private:
  const std::string token_;
  const bool require_worker_certificate_;
};

// Checks a call's credentials from its headers, before gRPC reads its message: a peer
// without the token (SearchService) or without a client certificate (WorkerService)
// is refused UNAUTHENTICATED without the master receiving or parsing what it sends.
// The handlers check again, in full (the certificate's name against the worker id).
// Server reflection needs the token too; gRPC's health service (grpc.health.v1)
// passes, as probes carry no credentials. For TLS ports (gRPC runs processors only
// there).
class PreAuthProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit PreAuthProcessor(Authorizer auth) : auth_(std::move(auth)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override;

 private:
  const Authorizer auth_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SERVICE_AUTH_H_
