// The whole master process behind one object: database, core, gRPC services, the HTTP
// port and the lease timer, started and stopped in the right order. main.cc only turns
// flags into Options (TensorFlow Serving's Server::Options shape).
#ifndef DEEPEVOLVE_MASTER_SERVICE_SERVER_H_
#define DEEPEVOLVE_MASTER_SERVICE_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/grpc_security.h"
#include "master/scheduler/master.h"
#include "master/service/master_slot.h"
#include "master/store/sqlite.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace deepevolve::master {

class Authorizer;
class HttpFrontend;
class RpcMetrics;
class SearchServiceImpl;
class WorkerServiceImpl;

// Thread-safe.
class MasterServer {
 public:
  struct Options {
    // The SQLite database, created when missing.
    std::string db_path = "deepevolve.db";
    // kFull: an acknowledged result survives power loss; kProcess: any process crash.
    store::Durability durability = store::Durability::kFull;
    // gRPC address; port 0 picks a free port (see port()).
    std::string listen = "127.0.0.1:50051";
    // TLS files, or insecure = true for plaintext (default: TLS, no files: refused).
    ServerSecurity security;
    // The bearer token clients must send; required with TLS, optional in plaintext.
    std::string token;
    // host:port of /healthz, /metrics, the JSON API and the dashboard (HTTPS with
    // TLS); port 0 picks a free one; empty (the default): no HTTP.
    std::string http_listen;
    // host:port of a plaintext gRPC port that speaks grpc.health.v1 and nothing else,
    // for Kubernetes' built-in gRPC probes (which cannot speak TLS); port 0 picks a free
    // one; empty (the default): none. It tells only whether the master serves.
    std::string health_listen;
    // The dashboard's files (default: HttpFrontend::FindDashboardDir()).
    std::string dashboard_dir;
    // Leases, attempts, the longest Acquire wait.
    MasterOptions master;
    // Default: the real clock.
    const Clock* clock = nullptr;
    // For tests: called with the gRPC port and the health port (0: none) once they are
    // open, before recovery begins.
    std::function<void(int port, int health_port)> while_recovering;
  };

  // Checks the security set-up before touching the database, opens it, opens the gRPC
  // port (health NOT_SERVING, every call UNAVAILABLE), recovers, and serves. INVALID_ARGUMENT for a
  // bad security set-up or HTTP address (naming the flag's subject), FAILED_PRECONDITION for TLS
  // without a token, the store's error (naming the file) when the database cannot be opened or
  // recovered, UNAVAILABLE when a port cannot be bound.
  static absl::StatusOr<std::unique_ptr<MasterServer>> Start(Options options);
  // Shuts down if Shutdown was not called.
  ~MasterServer();

  // Drains: waiting calls are woken, the gRPC server gets up to `grace` to finish the
  // calls in flight, the lease timer and the HTTP port stop. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  int port() const { return port_; }
  // 0 without HTTP.
  int http_port() const { return http_port_; }
  // 0 without a health port.
  int health_port() const { return health_port_; }
  Master* master() { return master_.get(); }

 private:
  MasterServer() = default;

  Options options_;
  std::unique_ptr<Master> master_;
  MasterSlot slot_;  // master_, once recovered: what the services answer for
  std::unique_ptr<Authorizer> auth_;
  std::unique_ptr<RpcMetrics> rpc_metrics_;
  std::unique_ptr<SearchServiceImpl> search_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;  // options_.health_listen's, or none
  std::unique_ptr<HttpFrontend> http_;
  std::thread ticker_;
  absl::Notification stopping_;  // the lease timer stops
  std::atomic<bool> shut_down_{false};
  // What gRPC's health service says (grpc.health.v1): SERVING while the store works.
  void SetServing(bool serving);
  std::atomic<bool> serving_{false};
  bool health_set_ = false;  // SetServing's first call; then only the ticker's thread
  int port_ = 0;
  int http_port_ = 0;
  int health_port_ = 0;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SERVICE_SERVER_H_
