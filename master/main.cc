// deepevolve-master: serves SearchService and WorkerService from one SQLite file.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_security.h"
#include "master/service/http.h"
#include "master/service/server.h"
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
  deepevolve::master::MasterServer::Options options;
  std::string port_file, durability = "full";
  double lease_seconds = 30;
  app.add_option("--db", options.db_path, "SQLite database (created when missing)")
      ->capture_default_str();
  app.add_option("--listen", options.listen, "gRPC address; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the port actually bound to this file");
  app.add_option("--lease-seconds", lease_seconds, "how long a lease lasts without a heartbeat")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  app.add_option("--max-attempts", options.master.max_genome_attempts,
                 "failures caused by a genome before it is recorded failed")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  double max_epoch_seconds = 3600;
  app.add_option("--max-epoch-seconds", max_epoch_seconds,
                 "a trial's time budget: its first epoch may take this long, each later one 4x "
                 "the mean epoch so far (1 min to this); past it the trial is requeued")
      ->check(CLI::Range(0.05, 7.0 * 24 * 3600))
      ->capture_default_str();
  app.add_option("--max-running-searches", options.master.max_running_searches,
                 "searches running at once; more are refused (RESOURCE_EXHAUSTED)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  double forget_after_seconds = 3600;
  app.add_option("--forget-after-seconds", forget_after_seconds,
                 "a reported lease is remembered this long for repeated reports, and a worker "
                 "holding nothing is forgotten after this long unheard (it registers again)")
      ->check(CLI::Range(1.0, 30.0 * 24 * 3600))
      ->capture_default_str();
  double max_checkpoint_mb = 512;
  app.add_option("--max-checkpoint-mb", max_checkpoint_mb,
                 "the largest checkpoint of a trial's training state the master keeps (one per "
                 "running trial, in DB.checkpoints/)")
      ->check(CLI::Range(1.0, 64.0 * 1024))
      ->capture_default_str();
  app.add_option("--checkpoint-dir", options.master.checkpoint_dir,
                 "keep checkpoints in this directory (default DB.checkpoints/) and let workers "
                 "that share it (their --checkpoint-dir: a ReadWriteMany volume, NFS) write and "
                 "read them there instead of streaming them");
  app.add_option("--durability", durability,
                 "full: a commit survives power loss; process: it survives any crash of a "
                 "process (faster)")
      ->check(CLI::IsMember({"full", "process"}))
      ->capture_default_str();
  deepevolve::ServerSecurity& security = options.security;
  std::string token_file;
  app.add_option("--tls-cert", security.cert_file, "the master's TLS certificate (PEM)");
  app.add_option("--tls-key", security.key_file, "its private key (PEM)");
  app.add_option("--tls-client-ca", security.client_ca_file,
                 "CA certificate (PEM) that signs worker certificates (mutual TLS)");
  app.add_option("--token-file", token_file,
                 "bearer token clients must send (default: $DEEPEVOLVE_TOKEN, if set)");
  app.add_flag("--insecure", security.insecure,
               "serve plaintext gRPC: anyone who reaches the port may submit and report");
  std::string http_port_file;
  app.add_option("--http-listen", options.http_listen,
                 "host:port for /healthz, /metrics and the JSON API (HTTPS with TLS); port 0 "
                 "picks a free port; empty: no HTTP");
  app.add_option("--http-port-file", http_port_file, "write the HTTP port bound to this file");
  std::string health_port_file;
  app.add_option("--health-listen", options.health_listen,
                 "host:port of a plaintext gRPC port for grpc.health.v1 alone (Kubernetes' "
                 "gRPC probes); port 0 picks a free port; empty: none");
  app.add_option("--health-port-file", health_port_file,
                 "write the health port bound to this file");
  options.dashboard_dir = deepevolve::master::HttpFrontend::FindDashboardDir();
  app.add_option("--dashboard-dir", options.dashboard_dir,
                 "the dashboard's files (served at /dashboard/)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  options.master.lease_ms = static_cast<int64_t>(lease_seconds * 1000);
  options.master.max_epoch_ms = static_cast<int64_t>(max_epoch_seconds * 1000);
  options.master.forget_after_ms = static_cast<int64_t>(forget_after_seconds * 1000);
  options.master.max_checkpoint_bytes = static_cast<int64_t>(max_checkpoint_mb * (1 << 20));
  options.durability = durability == "full" ? deepevolve::store::Durability::kFull
                                            : deepevolve::store::Durability::kProcess;
  if (!token_file.empty()) {
    auto read = deepevolve::ReadTokenFile(token_file);
    if (!read.ok()) {
      spdlog::error("{}", std::string(read.status().message()));
      return 2;
    }
    options.token = *read;
  } else if (const char* env = std::getenv("DEEPEVOLVE_TOKEN"); env != nullptr) {
    options.token = env;
  }
  if (security.insecure) {
    spdlog::warn("serving plaintext gRPC on {} (--insecure): traffic is readable{}", options.listen,
                 options.token.empty() ? " and anyone who reaches the port may submit and report"
                                       : ", tokens included, and workers are not authenticated");
  }

  // Signals are taken by this thread, not by handlers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = deepevolve::master::MasterServer::Start(options);
  if (!server.ok()) {
    spdlog::error("{}", std::string(server.status().message()));
    // A set-up the user must change, or a database or port that failed.
    return absl::IsInvalidArgument(server.status()) || absl::IsFailedPrecondition(server.status())
               ? 2
               : 1;
  }
  if ((*server)->http_port() > 0) {
    spdlog::info("HTTP{} on port {}: /healthz, /metrics, /api/", security.insecure ? "" : "S",
                 (*server)->http_port());
    WritePortFile(http_port_file, (*server)->http_port());
  }
  if ((*server)->health_port() > 0) {
    spdlog::info("gRPC health (plaintext, grpc.health.v1 only) on port {}",
                 (*server)->health_port());
    WritePortFile(health_port_file, (*server)->health_port());
  }
  WritePortFile(port_file, (*server)->port());
  spdlog::info("deepevolve-master listening on {} ({}; database {}, leases {} s)",
               absl::StartsWith(options.listen, "unix:") ? options.listen
                                                         : absl::StrCat("port ", (*server)->port()),
               security.insecure ? "plaintext" : "TLS, workers by certificate, clients by token",
               options.db_path, lease_seconds);

  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("signal {}: draining", signal);
  (*server)->Shutdown();
  const deepevolve::master::MasterStats stats = (*server)->master()->Stats();
  spdlog::info(
      "stopped; every acknowledged result is in {} ({} writes in {} commits, {} syncs, {} "
      "checkpoints, {} WAL restarts)",
      options.db_path, stats.store_steps, stats.store_commits, stats.store_syncs,
      stats.store_checkpoints, stats.store_wal_restarts);
  return 0;
}
