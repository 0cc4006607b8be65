// deepevolve-master: serves SearchService and WorkerService from one SQLite file.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_security.h"
#include "master/scheduler/master.h"
#include "master/service/auth.h"
#include "master/service/http.h"
#include "master/service/service.h"
#include "spdlog/spdlog.h"

namespace {

// Writes `port` to `path` (when given) so that it appears whole or not at all.
void WritePortFile(const std::string& path, int port) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << port << "\n";
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built with its debug-mode deadlock detector on: every lock, gRPC's
  // included, is tracked in a global graph. The tests keep it; a serving master does not
  // pay for it (it was ~4 % of the master's CPU under load).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"deepevolve-master: runs searches and hands their genomes to workers"};
  std::string db_path = "deepevolve.db", listen = "127.0.0.1:50051", port_file, durability = "full";
  double lease_seconds = 30;
  deepevolve::master::MasterOptions options;
  app.add_option("--db", db_path, "SQLite database (created when missing)")->capture_default_str();
  app.add_option("--listen", listen, "gRPC address; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the port actually bound to this file");
  app.add_option("--lease-seconds", lease_seconds, "how long a lease lasts without a heartbeat")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  app.add_option("--max-attempts", options.max_genome_attempts,
                 "failures caused by a genome before it is recorded failed")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--durability", durability,
                 "full: a commit survives power loss; process: it survives any crash of a "
                 "process (faster)")
      ->check(CLI::IsMember({"full", "process"}))
      ->capture_default_str();
  deepevolve::ServerSecurity security;
  std::string token_file;
  app.add_option("--tls-cert", security.cert_file, "the master's TLS certificate (PEM)");
  app.add_option("--tls-key", security.key_file, "its private key (PEM)");
  app.add_option("--tls-client-ca", security.client_ca_file,
                 "CA certificate (PEM) that signs worker certificates (mutual TLS)");
  app.add_option("--token-file", token_file,
                 "bearer token clients must send (default: $DEEPEVOLVE_TOKEN, if set)");
  app.add_flag("--insecure", security.insecure,
               "serve plaintext gRPC: anyone who reaches the port may submit and report");
  std::string http_listen, http_port_file;
  app.add_option("--http-listen", http_listen,
                 "host:port for /healthz, /metrics and the JSON API (HTTPS with TLS); port 0 "
                 "picks a free port; empty: no HTTP");
  app.add_option("--http-port-file", http_port_file, "write the HTTP port bound to this file");
  std::string dashboard_dir = deepevolve::master::HttpFrontend::FindDashboardDir();
  app.add_option("--dashboard-dir", dashboard_dir, "the dashboard's files (served at /dashboard/)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  options.lease_ms = static_cast<int64_t>(lease_seconds * 1000);

  // Refuse a bad security set-up before touching the database.
  auto credentials = deepevolve::MakeServerCredentials(security);
  if (!credentials.ok()) {
    spdlog::error("{}", std::string(credentials.status().message()));
    return 2;
  }
  std::string token;
  if (!token_file.empty()) {
    auto read = deepevolve::ReadTokenFile(token_file);
    if (!read.ok()) {
      spdlog::error("{}", std::string(read.status().message()));
      return 2;
    }
    token = *read;
  } else if (const char* env = std::getenv("DEEPEVOLVE_TOKEN"); env != nullptr) {
    token = env;
  }
  if (security.insecure) {
    spdlog::warn("serving plaintext gRPC on {} (--insecure): traffic is readable{}", listen,
                 token.empty() ? " and anyone who reaches the port may submit and report"
                               : ", tokens included, and workers are not authenticated");
  } else if (token.empty()) {
    spdlog::error("TLS serving needs a client token: --token-file (or $DEEPEVOLVE_TOKEN)");
    return 2;
  }

  // Signals are taken by a thread below, not by handlers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = deepevolve::store::Store::Open(
      db_path, durability == "full" ? deepevolve::store::Durability::kFull
                                    : deepevolve::store::Durability::kProcess);
  if (!store.ok()) {
    spdlog::error("cannot open the database {}: {}", db_path, store.status().ToString());
    return 1;
  }
  auto master = deepevolve::master::Master::Create(std::move(*store),
                                                   deepevolve::RealClock::Get(), options);
  if (!master.ok()) {
    spdlog::error("cannot recover from {}: {}", db_path, master.status().ToString());
    return 1;
  }
  const deepevolve::master::Authorizer auth(token, !security.insecure);
  deepevolve::master::RpcMetrics rpc_metrics;
  deepevolve::master::SearchServiceImpl search_service(master->get(), &auth, &rpc_metrics);
  deepevolve::master::WorkerServiceImpl worker_service(master->get(), &auth, &rpc_metrics);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, *credentials, &port);
  builder.SetMaxReceiveMessageSize(deepevolve::master::kMaxRequestBytes);
  builder.SetMaxSendMessageSize(deepevolve::master::kMaxRequestBytes);
  builder.RegisterService(&search_service);
  builder.RegisterService(&worker_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on {}", listen);
    return 1;
  }
  deepevolve::master::HttpFrontend http(master->get(), &auth, &rpc_metrics,
                                        security.insecure ? "" : security.cert_file,
                                        security.insecure ? "" : security.key_file,
                                        dashboard_dir);
  if (!http_listen.empty()) {
    const size_t colon = http_listen.rfind(':');
    int http_port = 0;
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(http_listen.substr(colon + 1), &http_port)) {
      spdlog::error("--http-listen: expected host:port, got '{}'", http_listen);
      return 2;
    }
    auto bound = http.Start(http_listen.substr(0, colon), http_port);
    if (!bound.ok()) {
      spdlog::error("{}", std::string(bound.status().message()));
      return 1;
    }
    spdlog::info("HTTP{} on port {}: /healthz, /metrics, /api/", security.insecure ? "" : "S",
                 *bound);
    WritePortFile(http_port_file, *bound);
  }
  WritePortFile(port_file, port);
  spdlog::info("deepevolve-master listening on port {} ({}; database {}, leases {} s)", port,
               security.insecure ? "plaintext" : "TLS, workers by certificate, clients by token",
               db_path, lease_seconds);

  absl::Notification stopping;
  std::thread ticker([&] {
    const absl::Duration period = absl::Milliseconds(std::max<int64_t>(20, options.lease_ms / 4));
    while (!stopping.WaitForNotificationWithTimeout(period)) {
      if (absl::Status s = (*master)->Tick(); !s.ok()) {
        spdlog::error("expiring leases failed: {}", s.ToString());
      }
    }
  });

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("signal {}: draining", signal);
  stopping.Notify();
  (*master)->Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ticker.join();
  http.Stop();
  const deepevolve::master::MasterStats stats = (*master)->Stats();
  spdlog::info(
      "stopped; every acknowledged result is in {} ({} writes in {} commits, {} syncs, {} "
      "checkpoints, {} WAL restarts)",
      db_path, stats.store_steps, stats.store_commits, stats.store_syncs, stats.store_checkpoints,
      stats.store_wal_restarts);
  return 0;
}
