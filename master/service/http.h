// The master's HTTP port (cpp-httplib): /healthz, /metrics in the Prometheus text
// format, and a read-only JSON API over the same state the gRPC services show:
//   GET /api/searches                 every search (SearchSummary as protobuf JSON)
//   GET /api/searches/{id}            one search
//   GET /api/searches/{id}/trials     every genome of it, with results
//   GET /api/searches/{id}/leaderboard?limit=N   its trials in rank order
//   GET /api/searches/{id}/events?after=N[&compact=1]   up to 1000 events after sequence N
//   GET /api/workers                  the worker pool
//   GET /dashboard/                   the live dashboard (static files; it asks /api/)
// /api/ takes the same bearer token as the gRPC clients (Authorization: Bearer ...);
// /healthz and /metrics are open, for probes and scrapers. Only GET and HEAD are
// served (405 for any other method, its body unread); a connection is cut after
// kMaxHttpConnectionBytes received or kMaxHttpConnectionAge without its answers moving
// on (ConnectionGuard).
#ifndef DEEPEVOLVE_MASTER_SERVICE_HTTP_H_
#define DEEPEVOLVE_MASTER_SERVICE_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "master/scheduler/master.h"
#include "master/service/auth.h"
#include "master/service/connection_guard.h"
#include "master/service/metrics.h"

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace deepevolve::master {

// The HTTP port's bounds.
inline constexpr size_t kMaxHttpBodyBytes = 64 << 10;
inline constexpr int64_t kMaxHttpConnectionBytes = int64_t{128} << 10;
inline constexpr absl::Duration kMaxHttpConnectionAge = absl::Seconds(10);
// Connections served at once; more wait for a thread (each at most the age above).
inline constexpr size_t kHttpThreads = 64;

class HttpFrontend {
 public:
  // With a certificate and key (PEM files), it serves HTTPS. `dashboard_dir` holds the
  // dashboard's files (empty: no dashboard).
  HttpFrontend(Master* master, const Authorizer* auth, const RpcMetrics* metrics,
               const std::string& tls_cert_file = "", const std::string& tls_key_file = "",
               const std::string& dashboard_dir = "");
  ~HttpFrontend();

  // Binds host:port (0: a free port) and serves on a thread; returns the port.
  absl::StatusOr<int> Start(const std::string& host, int port);
  void Stop();

  // The /metrics page.
  std::string RenderMetrics() const;

  // Where the dashboard's files are: next to an installed master
  // (../share/deepevolve/dashboard) or in the source tree beside a build directory.
  static std::string FindDashboardDir();

 private:
  // A JSON API answer's body.
  struct HttpReply {
    std::string body;
  };
  using Handler = absl::StatusOr<HttpReply> (HttpFrontend::*)(const httplib::Request&);
  // Serves GET `pattern` with `handler`; an error status becomes its HTTP code and
  // {"error": message}.
  void Route(const char* pattern, Handler handler);
  absl::StatusOr<HttpReply> ListSearches(const httplib::Request& req);
  absl::StatusOr<HttpReply> GetSearch(const httplib::Request& req);
  absl::StatusOr<HttpReply> ListTrials(const httplib::Request& req);
  absl::StatusOr<HttpReply> Leaderboard(const httplib::Request& req);
  absl::StatusOr<HttpReply> ListEvents(const httplib::Request& req);
  absl::StatusOr<HttpReply> ListWorkers(const httplib::Request& req);

  Master* master_;
  const Authorizer* auth_;
  const RpcMetrics* metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<ConnectionGuard> guard_;
  std::thread thread_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SERVICE_HTTP_H_
