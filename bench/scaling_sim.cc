// scaling_sim: how busy N workers stay, and how soon a search reaches a target, when
// training times are heavy-tailed. Drives the real master core (master/scheduler: its
// queue, leases, generation barrier and SQLite store) in process with an injected
// clock; simulated workers "train" each genome for a log-normal time drawn from its
// hash and report the accuracy a fitness table gives it (bench/data). No process, no
// network, no sleep: simulated hours run in milliseconds.
//
//   scaling_sim --table bench/data/fashion_mnist_mlp_grid.csv --seeds 20
//
// Prints one JSON line per strategy and worker count (medians over seeds), then a table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "genome/genome.h"
#include "master/ga/sim.h"
#include "master/ga/spec.h"
#include "master/scheduler/master.h"
#include "master/store/store.h"
#include "tests/testing/fake_clock.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = deepevolve::v1;
namespace ga = deepevolve::ga;
namespace genome = deepevolve::genome;
using deepevolve::master::Master;

struct Options {
  std::string table = "bench/data/fashion_mnist_mlp_grid.csv";
  int seeds = 20;
  std::string workers = "1,2,4,8,16";
  double median_seconds = 60;  // median training time
  double sigma = 1.0;          // log-normal shape: p99 / median = exp(2.33 sigma)
  int target_rank = 10;        // the target is the accuracy of the table's n-th best genome
};

struct Outcome {
  double utilisation = 0;  // busy worker-seconds / (workers x makespan)
  // The same until the last genome was handed out: the end of a search, when the last
  // genomes finish and nothing is left to hand out, is not counted.
  double utilisation_dispatching = 0;
  double makespan_s = 0;
  double to_target_s = -1;  // -1: not reached
  int trials = 0;
};

// A genome's training time: log-normal, fixed by its hash and the run's seed, so that
// every strategy and worker count sees the same genome take the same time.
int64_t TrainMs(const std::string& hash, uint64_t seed, const Options& o) {
  std::seed_seq seq{static_cast<uint64_t>(std::hash<std::string>()(hash)), seed};
  std::mt19937_64 rng(seq);
  std::lognormal_distribution<double> d(std::log(o.median_seconds), o.sigma);
  return std::max<int64_t>(1, static_cast<int64_t>(d(rng) * 1000));
}

absl::StatusOr<Outcome> RunOne(const v1::SearchSpec& spec,
                               const absl::flat_hash_map<std::string, ga::Fitness>& fitness,
                               double target, int workers, uint64_t seed, const Options& o,
                               const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  deepevolve::testing::FakeClock clock(0);
  auto store = deepevolve::store::Store::Open((dir / "sim.db").string(),
                                              deepevolve::store::Durability::kProcess);
  if (!store.ok()) return store.status();
  deepevolve::master::MasterOptions options;
  options.lease_ms = int64_t{1} << 50;  // simulated workers never go silent
  options.max_wait_ms = 0;
  auto master = Master::Create(*std::move(store), &clock, options);
  if (!master.ok()) return master.status();
  v1::SearchSpec seeded = spec;
  seeded.set_seed(seed);
  auto submitted = (*master)->Submit(seeded);
  if (!submitted.ok()) return submitted.status();

  for (int w = 0; w < workers; ++w) {
    v1::RegisterRequest r;
    r.set_worker_id(absl::StrCat("w", w));
    r.set_incarnation(1);
    if (auto s = (*master)->Register(r); !s.ok()) return s.status();
  }
  struct Running {
    int64_t end_ms;
    int worker;
    v1::Assignment assignment;
    bool operator>(const Running& other) const { return end_ms > other.end_ms; }
  };
  std::priority_queue<Running, std::vector<Running>, std::greater<Running>> running;
  std::vector<int> idle;
  for (int w = workers - 1; w >= 0; --w) idle.push_back(w);
  Outcome out;
  double busy_ms = 0;
  std::vector<std::pair<int64_t, int64_t>> spans;  // [start, end) of every training
  int64_t last_dispatch_ms = 0;
  for (;;) {
    // Every idle worker asks for work; without any (a generation's barrier) it waits
    // for the next report.
    std::vector<int> still_idle;
    for (int w : idle) {
      v1::AcquireRequest a;
      a.set_worker_id(absl::StrCat("w", w));
      a.set_incarnation(1);
      a.set_wait_ms(0);
      auto got = (*master)->Acquire(a);
      if (!got.ok()) return got.status();
      if (!got->has_assignment()) {
        still_idle.push_back(w);
        continue;
      }
      const int64_t ms = TrainMs(got->assignment().genome().hash(), seed, o);
      busy_ms += static_cast<double>(ms);
      spans.emplace_back(clock.NowMs(), clock.NowMs() + ms);
      last_dispatch_ms = clock.NowMs();
      running.push({clock.NowMs() + ms, w, got->assignment()});
    }
    idle = std::move(still_idle);
    if (running.empty()) break;
    Running done = running.top();
    running.pop();
    clock.AdvanceMs(done.end_ms - clock.NowMs());
    const auto it = fitness.find(done.assignment.genome().hash());
    if (it == fitness.end()) {
      return absl::InternalError("the master handed out a genome the table does not have");
    }
    v1::ReportRequest report;
    report.set_lease_id(done.assignment.lease_id());
    report.set_worker_id(absl::StrCat("w", done.worker));
    report.set_incarnation(1);
    report.set_ok(it->second.ok);
    report.set_accuracy(it->second.ok ? it->second.accuracy : 0);
    report.set_test_accuracy(report.accuracy());
    report.set_epochs_run(1);
    if (!it->second.ok) report.set_error("failed in the table");
    auto r = (*master)->Report(report);
    if (!r.ok()) return r.status();
    ++out.trials;
    if (out.to_target_s < 0 && it->second.ok && it->second.accuracy >= target) {
      out.to_target_s = static_cast<double>(clock.NowMs()) / 1000;
    }
    idle.push_back(done.worker);
  }
  out.makespan_s = static_cast<double>(clock.NowMs()) / 1000;
  out.utilisation = out.makespan_s > 0 ? busy_ms / 1000 / (workers * out.makespan_s) : 0;
  double busy_dispatching_ms = 0;
  for (const auto& [start, end] : spans) {
    busy_dispatching_ms +=
        static_cast<double>(std::max<int64_t>(0, std::min(end, last_dispatch_ms) - start));
  }
  out.utilisation_dispatching = last_dispatch_ms > 0
                                    ? busy_dispatching_ms / (static_cast<double>(workers) *
                                                             static_cast<double>(last_dispatch_ms))
                                    : 1;
  auto summary = (*master)->Get(submitted->search_id());
  if (!summary.ok()) return summary.status();
  if (summary->state() != v1::SUCCEEDED) {
    return absl::InternalError(
        absl::StrCat("the search ended ", v1::SearchState_Name(summary->state())));
  }
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"scaling_sim: worker utilisation and time to a target with heavy-tailed trainers"};
  Options o;
  app.add_option("--table", o.table, "fitness table (CSV, as deepevolve local writes)")
      ->capture_default_str();
  app.add_option("--seeds", o.seeds, "seeded runs per strategy and worker count")
      ->capture_default_str();
  app.add_option("--workers", o.workers, "worker counts, comma-separated")->capture_default_str();
  app.add_option("--median-seconds", o.median_seconds, "median training time")
      ->capture_default_str();
  app.add_option("--sigma", o.sigma, "log-normal shape of training times")->capture_default_str();
  app.add_option("--target-rank", o.target_rank, "target: the accuracy of the n-th best genome")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(o.table);
  if (!in) {
    std::cerr << "scaling_sim: cannot read " << o.table << "\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto table = ga::ParseFitnessTable(text.str(), o.table);
  if (!table.ok()) {
    std::cerr << "scaling_sim: " << table.status().message() << "\n";
    return 1;
  }
  absl::flat_hash_map<std::string, ga::Fitness> fitness;
  std::vector<double> accuracies;
  for (const auto& [g, f] : table->fitness) {
    fitness[genome::GenomeHash(table->space, g)] = f;
    if (f.ok) accuracies.push_back(f.accuracy);
  }
  std::sort(accuracies.rbegin(), accuracies.rend());
  const double target = accuracies[std::clamp<size_t>(o.target_rank, 1, accuracies.size()) - 1];
  std::vector<int> worker_counts;
  for (absl::string_view w : absl::StrSplit(o.workers, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(w, &n) || n < 1) {
      std::cerr << "scaling_sim: --workers: '" << w << "' is not a positive number\n";
      return 1;
    }
    worker_counts.push_back(n);
  }

  const fs::path dir = fs::temp_directory_path() / absl::StrCat("scaling-sim-", getpid());
  std::vector<std::string> rows;
  for (const char* strategy : {"generational", "steady_state"}) {
    v1::SearchSpec spec;
    *spec.mutable_space() = table->space.ToProto();
    spec.mutable_task()->set_dataset("fashion_mnist");
    spec.mutable_task()->set_net(v1::MLP);
    spec.set_name(absl::StrCat("scaling-", strategy));
    // The same budget for both: the generational default's 30 x 8 plan.
    if (std::string(strategy) == "generational") {
      spec.mutable_generational();
    } else {
      spec.mutable_steady_state()->set_trials(240);
    }
    auto resolved = ga::ResolveSearchSpec(spec, genome::GeneNames::kAny);
    if (!resolved.ok()) {
      std::cerr << "scaling_sim: " << resolved.status().message() << "\n";
      return 1;
    }
    for (int workers : worker_counts) {
      std::vector<double> util, util_dispatching, makespan, to_target, trials;
      int reached = 0;
      for (int s = 1; s <= o.seeds; ++s) {
        auto run = RunOne(*resolved, fitness, target, workers, static_cast<uint64_t>(s), o, dir);
        if (!run.ok()) {
          std::cerr << "scaling_sim: " << strategy << ", " << workers << " workers, seed " << s
                    << ": " << run.status().message() << "\n";
          return 1;
        }
        util.push_back(run->utilisation);
        util_dispatching.push_back(run->utilisation_dispatching);
        makespan.push_back(run->makespan_s);
        trials.push_back(run->trials);
        if (run->to_target_s >= 0) {
          ++reached;
          to_target.push_back(run->to_target_s);
        }
      }
      const std::string line = absl::StrFormat(
          "{\"strategy\": \"%s\", \"workers\": %d, \"seeds\": %d, \"utilisation\": %.4f, "
          "\"utilisation_min\": %.4f, \"utilisation_dispatching\": %.4f, "
          "\"utilisation_dispatching_min\": %.4f, \"makespan_s\": %.0f, \"trials\": %.0f, "
          "\"target\": %.4f, \"reached\": %d, \"to_target_s\": %.0f}",
          strategy, workers, o.seeds, Median(util), *std::min_element(util.begin(), util.end()),
          Median(util_dispatching),
          *std::min_element(util_dispatching.begin(), util_dispatching.end()), Median(makespan),
          Median(trials), target, reached, Median(to_target));
      std::cout << line << std::endl;
      rows.push_back(absl::StrFormat(
          "| %s | %d | %.1f %% (min %.1f %%) | %.1f %% (min %.1f %%) | %.0f | %.0f | %d/%d | %s |",
          strategy, workers, 100 * Median(util_dispatching),
          100 * *std::min_element(util_dispatching.begin(), util_dispatching.end()),
          100 * Median(util), 100 * *std::min_element(util.begin(), util.end()), Median(trials),
          Median(makespan) / 60, reached, o.seeds,
          to_target.empty() ? std::string("-") : absl::StrFormat("%.0f", Median(to_target) / 60)));
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::cout << "\ntarget " << absl::StrFormat("%.4f", target) << " (rank " << o.target_rank
            << " of " << accuracies.size() << "), training time log-normal, median "
            << o.median_seconds << " s, sigma " << o.sigma << "\n\n"
            << "| strategy | workers | utilisation while dispatching | utilisation to the end | "
               "trials | makespan min | reached target | to target min, median |\n"
               "|---|---|---|---|---|---|---|---|\n"
            << absl::StrJoin(rows, "\n") << "\n";
  return 0;
}
