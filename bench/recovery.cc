// recovery: how long a master takes to serve again after a restart in the middle of a
// long guided + ASHA search (audit F3: recovery must fit the probes' patience).
//
// Fills a database through the real master core in process: one guided search (the
// default 64 candidates, population 30) with an ASHA pruner over 4 epochs, on an
// 800 000-genome space, trained by a worker loop that sends each epoch's heartbeat
// and stops when told to prune, until --trials genomes have results; then --in-flight
// more are leased and left after their first epoch. The search is still running. Then,
// --repeats times, each master (this build's, and --master's when given) starts on a
// fresh copy of that database as its own process, and the time from its start to
// serving (its port file is written after recovery) and to its first answer over gRPC
// is measured, with its resident memory.
//
//   recovery --trials 60000 [--in-flight 4] [--repeats 5] [--dir D]
//            [--master OLD/deepevolve-master]
//
// Prints one JSON line per start, then the medians.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bench/process_stats.h"
#include "bench/wide_space.h"
#include "common/clock.h"
#include "common/subprocess.h"
#include "deepevolve/v1/service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "master/scheduler/master.h"
#include "master/store/store.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = deepevolve::v1;
using Clock = std::chrono::steady_clock;
using deepevolve::bench::Median;
using deepevolve::bench::Percentile;
using deepevolve::bench::ResidentMiB;

constexpr int kEpochs = 4;

// A genome's validation accuracy after `epoch`: its hash's draw, grown with the epochs.
double Accuracy(const std::string& hash, int epoch) {
  const double draw = static_cast<double>(std::stoul(hash.substr(0, 6), nullptr, 16)) / 0xffffff;
  return 0.5 + 0.45 * draw * (0.6 + 0.4 * epoch / kEpochs);
}

v1::SearchSpec GuidedAshaSpec(int trials) {
  v1::SearchSpec spec;
  spec.set_name("recovery");
  spec.set_seed(1);
  v1::TaskSpec* task = spec.mutable_task();
  task->set_dataset("fashion_mnist");
  task->set_net(v1::MLP);
  task->set_epochs(kEpochs);
  deepevolve::bench::AddWideMlpSpace(spec.mutable_space());
  spec.mutable_guided()->set_trials(trials);
  spec.mutable_pruner()->mutable_asha();
  return spec;
}

class Filler {
 public:
  explicit Filler(deepevolve::master::Master* master) : master_(master) {}

  absl::Status Register() {
    v1::RegisterRequest reg;
    reg.set_worker_id("filler");
    reg.set_incarnation(1);
    return master_->Register(reg).status();
  }

  // The next genome, nullopt when the search hands out none now.
  absl::StatusOr<std::optional<v1::Assignment>> Acquire() {
    v1::AcquireRequest acquire;
    acquire.set_worker_id("filler");
    acquire.set_incarnation(1);
    acquire.set_wait_ms(0);
    absl::StatusOr<v1::AcquireResponse> got = master_->Acquire(acquire);
    if (!got.ok()) return got.status();
    if (!got->has_assignment()) return std::nullopt;
    return got->assignment();
  }

  // Heartbeats epoch `epoch`; true when the master says prune (or stop).
  absl::StatusOr<bool> Beat(const v1::Assignment& a, int epoch) {
    v1::HeartbeatRequest h;
    h.set_lease_id(a.lease_id());
    h.set_worker_id("filler");
    h.set_incarnation(1);
    h.set_epoch(epoch);
    h.set_epochs(kEpochs);
    h.set_val_accuracy(Accuracy(a.genome().hash(), epoch));
    h.set_loss(1.0 / epoch);
    h.set_elapsed_seconds(epoch);
    absl::StatusOr<v1::HeartbeatResponse> r = master_->Heartbeat(h);
    if (!r.ok()) return r.status();
    return r->prune() || r->stop();
  }

  // Trains `a` as a worker does, to its last epoch or its pruning, and reports it.
  absl::Status Train(const v1::Assignment& a) {
    int run = 0;
    for (int e = 1; e <= kEpochs; ++e) {
      absl::StatusOr<bool> prune = Beat(a, e);
      if (!prune.ok()) return prune.status();
      run = e;
      if (*prune) break;
    }
    v1::ReportRequest report;
    report.set_lease_id(a.lease_id());
    report.set_worker_id("filler");
    report.set_incarnation(1);
    report.set_ok(true);
    report.set_accuracy(Accuracy(a.genome().hash(), run));
    report.set_test_accuracy(report.accuracy());
    report.set_train_seconds(run);
    report.set_epochs_run(run);
    return master_->Report(report).status();
  }

 private:
  deepevolve::master::Master* master_;
};

// Fills `db` with the running search; returns its trials with results.
absl::StatusOr<int64_t> Fill(const fs::path& db, int trials, int in_flight) {
  auto store = deepevolve::store::Store::Open(db.string(), deepevolve::store::Durability::kProcess);
  if (!store.ok()) return store.status();
  deepevolve::master::MasterOptions options;
  options.lease_ms = 600'000;
  auto master =
      deepevolve::master::Master::Create(std::move(*store), deepevolve::RealClock::Get(), options);
  if (!master.ok()) return master.status();
  Filler filler(master->get());
  if (absl::Status s = filler.Register(); !s.ok()) return s;
  // Planned beyond what is filled, so that the search is still running.
  auto submitted = (*master)->Submit(GuidedAshaSpec(trials + 10 * in_flight + 100));
  if (!submitted.ok()) return submitted.status();
  const auto t0 = Clock::now();
  for (int i = 0; i < trials; ++i) {
    absl::StatusOr<std::optional<v1::Assignment>> a = filler.Acquire();
    if (!a.ok()) return a.status();
    if (!a->has_value()) return absl::InternalError("the search handed out no genome");
    if (absl::Status s = filler.Train(**a); !s.ok()) return s;
    if ((i + 1) % 5000 == 0) {
      std::cerr << absl::StrFormat("filled %d trials, %.0f s\n", i + 1,
                                   std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  for (int i = 0; i < in_flight; ++i) {
    absl::StatusOr<std::optional<v1::Assignment>> a = filler.Acquire();
    if (!a.ok()) return a.status();
    if (!a->has_value()) return absl::InternalError("the search handed out no genome");
    if (absl::StatusOr<bool> beat = filler.Beat(**a, 1); !beat.ok()) return beat.status();
  }
  absl::StatusOr<v1::SearchSummary> summary = (*master)->Get(submitted->search_id());
  if (!summary.ok()) return summary.status();
  return summary->trials_done();
}

struct Start {
  double serving_s = 0, answered_s = 0, rss_mib = 0;
  int64_t trials_done = 0;
};

// Copies the filled database (and its model files) to `run_dir`, starts `program` on
// it and measures.
absl::StatusOr<Start> Measure(const std::string& program, const fs::path& filled,
                              const fs::path& run_dir) {
  fs::remove_all(run_dir);
  fs::create_directories(run_dir);
  for (const fs::directory_entry& e : fs::directory_iterator(filled.parent_path())) {
    if (e.path().filename().string().rfind("master.db", 0) != 0) continue;
    fs::copy(e.path(), run_dir / e.path().filename(), fs::copy_options::recursive);
  }
  const std::string port_file = (run_dir / "port").string();
  const auto t0 = Clock::now();
  auto master = deepevolve::Subprocess::Start(
      {program, "--db", (run_dir / "master.db").string(), "--listen", "127.0.0.1:0", "--port-file",
       port_file, "--insecure", "--durability", "process", "--http-listen", ""},
      (run_dir / "master.log").string());
  if (!master.ok()) return master.status();
  auto port = deepevolve::WaitForLine(port_file, *master, absl::Minutes(30));
  if (!port.ok()) return port.status();
  Start start;
  start.serving_s = std::chrono::duration<double>(Clock::now() - t0).count();
  auto stub = v1::SearchService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::GetRequest request;
  request.set_search_id(1);
  v1::SearchSummary summary;
  const grpc::Status s = stub->Get(&context, request, &summary);
  if (!s.ok()) return absl::InternalError(absl::StrCat("get: ", s.error_message()));
  start.answered_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (summary.state() != v1::RUNNING) {
    return absl::InternalError(absl::StrCat("the search is ", v1::SearchState_Name(summary.state()),
                                            " after the restart: ", summary.error()));
  }
  start.trials_done = summary.trials_done();
  start.rss_mib = ResidentMiB(master->pid());
  master->Stop();
  return start;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recovery: a master's restart in the middle of a long guided + ASHA search"};
  int trials = 60000, in_flight = 4, repeats = 5;
  std::string dir_name, master_path;
  app.add_option("--trials", trials, "genomes with results before the restart")
      ->capture_default_str();
  app.add_option("--in-flight", in_flight, "genomes leased at the restart")->capture_default_str();
  app.add_option("--repeats", repeats, "starts of each master, alternating")->capture_default_str();
  app.add_option("--master", master_path,
                 "another deepevolve-master to start on the same database (e.g. an older build)");
  app.add_option("--dir", dir_name,
                 "where the database goes (kept and reused when it is there already)");
  CLI11_PARSE(app, argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  auto program = deepevolve::FindProgram("deepevolve-master");
  if (!program.ok()) {
    std::cerr << program.status().message() << "\n";
    return 1;
  }
  std::vector<std::pair<std::string, std::string>> masters = {{"this", *program}};
  if (!master_path.empty()) masters.emplace_back("other", master_path);
  const fs::path dir = dir_name.empty()
                           ? fs::temp_directory_path() / absl::StrCat("recovery-", getpid())
                           : fs::path(dir_name);
  const fs::path filled = dir / absl::StrCat("filled-", trials) / "master.db";
  fs::create_directories(filled.parent_path());
  if (!fs::exists(filled)) {
    const auto t0 = Clock::now();
    absl::StatusOr<int64_t> done = Fill(filled, trials, in_flight);
    if (!done.ok()) {
      std::cerr << "filling " << filled << ": " << done.status() << "\n";
      fs::remove(filled);
      return 1;
    }
    std::cerr << absl::StrFormat("filled %s: %d trials done, %.0f s, %.0f MiB\n", filled.string(),
                                 *done, std::chrono::duration<double>(Clock::now() - t0).count(),
                                 static_cast<double>(fs::file_size(filled)) / (1 << 20));
  }
  std::vector<std::vector<Start>> starts(masters.size());
  for (int r = 0; r < repeats; ++r) {
    for (size_t m = 0; m < masters.size(); ++m) {
      absl::StatusOr<Start> start = Measure(masters[m].second, filled, dir / "run");
      if (!start.ok()) {
        std::cerr << masters[m].first << ": " << start.status() << "\n";
        return 1;
      }
      std::cout << absl::StrFormat(
          "{\"master\": \"%s\", \"trials\": %d, \"trials_done\": %d, \"serving_s\": %.3f, "
          "\"answered_s\": %.3f, \"rss_mib\": %.1f}\n",
          masters[m].first, trials, start->trials_done, start->serving_s, start->answered_s,
          start->rss_mib);
      std::cout.flush();
      starts[m].push_back(*start);
    }
  }
  std::cout << "\n| master | trials | start to serving (s) | to the first answer (s) | RSS (MiB) "
               "|\n|---|---|---|---|---|\n";
  for (size_t m = 0; m < masters.size(); ++m) {
    auto median = [&](double Start::*field) {
      std::vector<double> v;
      for (const Start& s : starts[m]) v.push_back(s.*field);
      return Median(v);
    };
    std::cout << absl::StrFormat("| %s | %d | %.2f | %.2f | %.1f |\n", masters[m].first, trials,
                                 median(&Start::serving_s), median(&Start::answered_s),
                                 median(&Start::rss_mib));
  }
  if (dir_name.empty()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}
