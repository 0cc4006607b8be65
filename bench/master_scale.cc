// master_scale: what a master's history costs it. Fills two databases through the real
// master core in process (a worker loop that reports each genome at once): one with
// --searches finished random searches of --trials genomes each, every search on its own
// task so that the ledger holds searches × trials entries, and one with --baseline
// searches. Then, alternating between the two, starts the real deepevolve-master on
// each (its own process), and measures: the time from its start to serving (the port
// file written after recovery), its resident memory after serving, and the latency of
// Leaderboard (limit 10), Get and a ListTrials page of 1 000 over gRPC on 127.0.0.1,
// asked of finished searches picked at random.
//
//   master_scale --searches 1000 --trials 1000 --baseline 10 --repeats 3 [--dir D]
//                [--master OLD/deepevolve-master]
//
// Prints one JSON line per run, then the medians.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
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

// A random search of `trials` genomes over an 800 000-genome space, on a task of its
// own (train_limit differs), so that no two searches share ledger entries.
v1::SearchSpec ScaleSpec(int index, int trials) {
  v1::SearchSpec spec;
  spec.set_name(absl::StrCat("scale-", index));
  spec.set_seed(static_cast<uint64_t>(index) + 1);
  v1::TaskSpec* task = spec.mutable_task();
  task->set_dataset("fashion_mnist");
  task->set_net(v1::MLP);
  task->set_epochs(1);
  task->set_train_limit(1000 + index);
  deepevolve::bench::AddWideMlpSpace(spec.mutable_space());
  spec.mutable_random()->set_trials(trials);
  return spec;
}

// Runs `searches` searches to the end in a master on `db`; returns its ledger size.
absl::StatusOr<int64_t> Fill(const fs::path& db, int searches, int trials) {
  auto store = deepevolve::store::Store::Open(db.string(), deepevolve::store::Durability::kProcess);
  if (!store.ok()) return store.status();
  deepevolve::master::MasterOptions options;
  options.lease_ms = 600'000;
  auto master =
      deepevolve::master::Master::Create(std::move(*store), deepevolve::RealClock::Get(), options);
  if (!master.ok()) return master.status();
  v1::RegisterRequest reg;
  reg.set_worker_id("filler");
  reg.set_incarnation(1);
  if (auto r = (*master)->Register(reg); !r.ok()) return r.status();
  for (int i = 0; i < searches; ++i) {
    if (auto s = (*master)->Submit(ScaleSpec(i, trials)); !s.ok()) return s.status();
    std::optional<v1::Assignment> next;
    for (;;) {
      if (!next.has_value()) {
        v1::AcquireRequest acquire;
        acquire.set_worker_id("filler");
        acquire.set_incarnation(1);
        acquire.set_wait_ms(0);
        auto got = (*master)->Acquire(acquire);
        if (!got.ok()) return got.status();
        if (!got->has_assignment()) break;
        next = got->assignment();
      }
      v1::ReportRequest report;
      report.set_lease_id(next->lease_id());
      report.set_worker_id("filler");
      report.set_incarnation(1);
      report.set_acquire_next(true);
      report.set_ok(true);
      const std::string& hash = next->genome().hash();
      report.set_accuracy(static_cast<double>(std::stoul(hash.substr(0, 6), nullptr, 16)) /
                          0xffffff);
      report.set_test_accuracy(report.accuracy());
      report.set_epochs_run(1);
      auto done = (*master)->Report(report);
      if (!done.ok()) return done.status();
      next.reset();
      if (done->has_next()) next = done->next();
    }
    if ((i + 1) % 100 == 0) std::cerr << "filled " << (i + 1) << " searches\n";
  }
  return (*master)->Stats().ledger_entries;
}

struct Run {
  double start_s = 0, rss_mib = 0, leaderboard_p50 = 0, leaderboard_p99 = 0, get_p99 = 0,
         page_p99 = 0;
};

absl::StatusOr<Run> Measure(const std::string& program, const fs::path& db, int searches, int calls,
                            uint64_t seed) {
  const fs::path dir = db.parent_path();
  const std::string port_file = (dir / "port").string();
  fs::remove(port_file);
  const auto t0 = Clock::now();
  auto master = deepevolve::Subprocess::Start(
      {program, "--db", db.string(), "--listen", "127.0.0.1:0", "--port-file", port_file,
       "--insecure", "--durability", "process", "--http-listen", ""},
      (dir / "master.log").string());
  if (!master.ok()) return master.status();
  auto port = deepevolve::WaitForLine(port_file, *master, absl::Minutes(5));
  if (!port.ok()) return port.status();
  Run run;
  run.start_s = std::chrono::duration<double>(Clock::now() - t0).count();
  auto stub = v1::SearchService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials()));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(1, searches);
  std::vector<double> leaderboard, get, page;
  auto timed = [](auto&& call, std::vector<double>& into) {
    const auto t = Clock::now();
    const grpc::Status s = call();
    into.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    return s;
  };
  for (int i = 0; i < calls; ++i) {
    const int64_t id = pick(rng);
    grpc::Status s = timed(
        [&] {
          grpc::ClientContext context;
          v1::LeaderboardRequest request;
          request.set_search_id(id);
          request.set_limit(10);
          v1::LeaderboardResponse response;
          return stub->Leaderboard(&context, request, &response);
        },
        leaderboard);
    if (!s.ok()) return absl::InternalError(absl::StrCat("leaderboard: ", s.error_message()));
    s = timed(
        [&] {
          grpc::ClientContext context;
          v1::GetRequest request;
          request.set_search_id(id);
          v1::SearchSummary response;
          return stub->Get(&context, request, &response);
        },
        get);
    if (!s.ok()) return absl::InternalError(absl::StrCat("get: ", s.error_message()));
    if (i % 10 != 0) continue;
    s = timed(
        [&] {
          grpc::ClientContext context;
          v1::ListTrialsRequest request;
          request.set_search_id(id);
          request.set_page_size(1000);
          v1::ListTrialsResponse response;
          return stub->ListTrials(&context, request, &response);
        },
        page);
    if (!s.ok()) return absl::InternalError(absl::StrCat("list trials: ", s.error_message()));
  }
  run.rss_mib = ResidentMiB(master->pid());
  run.leaderboard_p50 = Percentile(leaderboard, 0.5);
  run.leaderboard_p99 = Percentile(leaderboard, 0.99);
  run.get_p99 = Percentile(get, 0.99);
  run.page_p99 = Percentile(page, 0.99);
  master->Stop();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"master_scale: a master's start, memory and read latency with a long history"};
  int searches = 1000, trials = 1000, baseline = 10, repeats = 3, calls = 2000;
  std::string dir_name;
  app.add_option("--searches", searches, "finished searches in the large database")
      ->capture_default_str();
  app.add_option("--trials", trials, "genomes per search")->capture_default_str();
  app.add_option("--baseline", baseline, "finished searches in the small database")
      ->capture_default_str();
  app.add_option("--repeats", repeats, "starts of each, alternating")->capture_default_str();
  app.add_option("--calls", calls, "Leaderboard and Get calls per start")->capture_default_str();
  std::string master_path;
  app.add_option("--master", master_path,
                 "the deepevolve-master to start (default: the one built beside this program), "
                 "e.g. an older build to compare with");
  app.add_option("--dir", dir_name,
                 "where the databases go (kept and reused when they are there already)");
  CLI11_PARSE(app, argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  auto program = master_path.empty() ? deepevolve::FindProgram("deepevolve-master")
                                     : absl::StatusOr<std::string>(master_path);
  if (!program.ok()) {
    std::cerr << program.status().message() << "\n";
    return 1;
  }
  const fs::path dir = dir_name.empty()
                           ? fs::temp_directory_path() / absl::StrCat("master-scale-", getpid())
                           : fs::path(dir_name);
  struct Case {
    std::string name;
    int searches;
    fs::path db;
    std::vector<Run> runs;
  };
  std::vector<Case> cases = {{"baseline", baseline, dir / "baseline" / "master.db", {}},
                             {"history", searches, dir / "history" / "master.db", {}}};
  for (Case& c : cases) {
    fs::create_directories(c.db.parent_path());
    if (fs::exists(c.db)) continue;
    const auto t0 = Clock::now();
    absl::StatusOr<int64_t> entries = Fill(c.db, c.searches, trials);
    if (!entries.ok()) {
      std::cerr << "filling " << c.db << ": " << entries.status() << "\n";
      return 1;
    }
    std::cerr << absl::StrFormat("filled %s: %d searches, %d ledger entries, %.0f s, %.0f MiB\n",
                                 c.db.string(), c.searches, *entries,
                                 std::chrono::duration<double>(Clock::now() - t0).count(),
                                 static_cast<double>(fs::file_size(c.db)) / (1 << 20));
  }
  for (int r = 0; r < repeats; ++r) {
    for (Case& c : cases) {
      absl::StatusOr<Run> run = Measure(*program, c.db, c.searches, calls, 100 + r);
      if (!run.ok()) {
        std::cerr << c.name << ": " << run.status() << "\n";
        return 1;
      }
      std::cout << absl::StrFormat(
          "{\"case\": \"%s\", \"searches\": %d, \"start_s\": %.3f, \"rss_mib\": %.1f, "
          "\"leaderboard_p50_ms\": %.3f, \"leaderboard_p99_ms\": %.3f, \"get_p99_ms\": %.3f, "
          "\"list_trials_1000_p99_ms\": %.3f}\n",
          c.name, c.searches, run->start_s, run->rss_mib, run->leaderboard_p50,
          run->leaderboard_p99, run->get_p99, run->page_p99);
      c.runs.push_back(*run);
    }
  }
  auto median = [](const Case& c, double Run::*field) {
    std::vector<double> v;
    for (const Run& r : c.runs) v.push_back(r.*field);
    return Median(v);
  };
  std::cout << "\n| case | searches | start to serving (s) | RSS (MiB) | Leaderboard p50 / p99 "
               "(ms) | Get p99 (ms) | ListTrials 1000 p99 (ms) |\n|---|---|---|---|---|---|---|\n";
  for (const Case& c : cases) {
    std::cout << absl::StrFormat("| %s | %d | %.2f | %.1f | %.2f / %.2f | %.2f | %.2f |\n", c.name,
                                 c.searches, median(c, &Run::start_s), median(c, &Run::rss_mib),
                                 median(c, &Run::leaderboard_p50), median(c, &Run::leaderboard_p99),
                                 median(c, &Run::get_p99), median(c, &Run::page_p99));
  }
  std::cout << absl::StrFormat("\nRSS ratio history/baseline: %.2fx\n",
                               median(cases[1], &Run::rss_mib) / median(cases[0], &Run::rss_mib));
  if (dir_name.empty()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}
