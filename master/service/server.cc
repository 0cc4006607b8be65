#include "master/service/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "master/service/auth.h"
#include "master/service/http.h"
#include "master/service/metrics.h"
#include "master/service/service.h"
#include "spdlog/spdlog.h"

namespace deepevolve::master {

absl::StatusOr<std::unique_ptr<MasterServer>> MasterServer::Start(Options options) {
  // Refuse a bad security set-up before touching the database.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.security);
  if (!credentials.ok()) return absl::InvalidArgumentError(credentials.status().message());
  const bool tls = !options.security.insecure;
  if (tls && options.token.empty()) {
    return absl::FailedPreconditionError(
        "TLS serving needs a client token: --token-file (or $DEEPEVOLVE_TOKEN)");
  }
  std::string http_host;
  int http_port = 0;
  if (!options.http_listen.empty()) {
    const size_t colon = options.http_listen.rfind(':');
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(options.http_listen.substr(colon + 1), &http_port)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http-listen: expected host:port, got '", options.http_listen, "'"));
    }
    http_host = options.http_listen.substr(0, colon);
  }
  if (options.clock == nullptr) options.clock = RealClock::Get();
  if (options.dashboard_dir.empty()) options.dashboard_dir = HttpFrontend::FindDashboardDir();

  absl::StatusOr<std::unique_ptr<store::Store>> store =
      store::Store::Open(options.db_path, options.durability);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("cannot open the database ", options.db_path, ": ", store.status().message()));
  }
  std::unique_ptr<MasterServer> s(new MasterServer());
  s->options_ = options;
  s->auth_ = std::make_unique<Authorizer>(options.token, tls);
  s->rpc_metrics_ = std::make_unique<RpcMetrics>();
  s->search_service_ =
      std::make_unique<SearchServiceImpl>(&s->slot_, s->auth_.get(), s->rpc_metrics_.get());
  s->worker_service_ =
      std::make_unique<WorkerServiceImpl>(&s->slot_, s->auth_.get(), s->rpc_metrics_.get());
  // Credentials are checked from the headers, before a message is read (TLS only:
  // gRPC runs no processor on a plaintext port).
  if (tls) (*credentials)->SetAuthMetadataProcessor(std::make_shared<PreAuthProcessor>(*s->auth_));
  // gRPC's standard health protocol (grpc.health.v1, what Kubernetes' gRPC probes and
  // load balancers speak; no token needed) and server reflection (grpcurl-style tools;
  // on a TLS port it needs the token, as SearchService does). Both are gRPC's own
  // services, enabled for every server this process builds from here on.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &s->port_);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.SetMaxSendMessageSize(kMaxRequestBytes);
  builder.RegisterService(s->search_service_.get());
  builder.RegisterService(s->worker_service_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  if (!options.health_listen.empty()) {
    // No service of ours: gRPC adds its health service (and reflection, which lists
    // only that) to every server.
    grpc::ServerBuilder health;
    health.AddListeningPort(options.health_listen, grpc::InsecureServerCredentials(),
                            &s->health_port_);
    health.SetMaxReceiveMessageSize(4096);
    s->health_server_ = health.BuildAndStart();
    if (s->health_server_ == nullptr || s->health_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("--health-listen: cannot listen on ", options.health_listen));
    }
  }
  // The port is open while the master recovers: health says NOT_SERVING and every
  // call UNAVAILABLE, until the searches are back.
  s->SetServing(false);
  if (options.while_recovering) options.while_recovering(s->port_, s->health_port_);
  absl::StatusOr<std::unique_ptr<Master>> master =
      Master::Create(std::move(*store), options.clock, options.master);
  if (!master.ok()) {
    return absl::Status(
        master.status().code(),
        absl::StrCat("cannot recover from ", options.db_path, ": ", master.status().message()));
  }
  s->master_ = std::move(*master);
  s->slot_.Set(s->master_.get());
  s->http_ =
      std::make_unique<HttpFrontend>(s->master_.get(), s->auth_.get(), s->rpc_metrics_.get(),
                                     tls ? options.security.cert_file : "",
                                     tls ? options.security.key_file : "", options.dashboard_dir);
  if (!options.http_listen.empty()) {
    ASSIGN_OR_RETURN(s->http_port_, s->http_->Start(http_host, http_port));
  }
  // Recovered: it serves until its store fails (the ticker checks) or it shuts down.
  s->SetServing(true);
  MasterServer* server = s.get();
  s->ticker_ = std::thread([server] {
    const absl::Duration period =
        absl::Milliseconds(std::max<int64_t>(20, server->options_.master.lease_ms / 4));
    while (!server->stopping_.WaitForNotificationWithTimeout(period)) {
      if (absl::Status t = server->master_->Tick(); !t.ok()) {
        spdlog::error("expiring leases failed: {}", t.ToString());
      }
      server->SetServing(server->master_->Health().ok());
    }
  });
  return s;
}

void MasterServer::SetServing(bool serving) {
  if (serving_.exchange(serving) == serving && health_set_) return;
  health_set_ = true;
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    grpc::HealthCheckServiceInterface* health =
        server == nullptr ? nullptr : server->GetHealthCheckService();
    if (health == nullptr) continue;
    // The server as a whole ("") and each of the master's services.
    for (const char* service : {"", "deepevolve.v1.SearchService", "deepevolve.v1.WorkerService"}) {
      health->SetServingStatus(service, serving);
    }
  }
  if (!serving && master_ != nullptr) {
    spdlog::error("gRPC health: NOT_SERVING ({})", master_->Health().ToString());
  }
}

MasterServer::~MasterServer() { Shutdown(); }

void MasterServer::Shutdown(absl::Duration grace) {
  if (shut_down_.exchange(true)) return;
  stopping_.Notify();
  if (master_) master_->Shutdown();
  // Health turns NOT_SERVING for the calls of the grace period (gRPC's own Shutdown).
  if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  if (health_server_) health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
  if (ticker_.joinable()) ticker_.join();
  if (http_) http_->Stop();
}

}  // namespace deepevolve::master
