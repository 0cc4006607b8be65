#include "cli/local.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/md5.h"
#include "master/ga/genome.h"
#include "master/ga/ledger.h"
#include "master/ga/space.h"
#include "master/ga/spec.h"
#include "master/ga/strategy.h"
#include "nlohmann/json.hpp"
#include "worker/trainer/trainer.h"

namespace deepevolve::cli {
namespace {

namespace fs = std::filesystem;

// One trained (or failed, or cached) genome, as written to the CSV and JSON files.
struct Row {
  ga::Candidate candidate;
  std::string hash;
  ga::TrialResult result;
  bool ledger_hit = false;
  uint64_t seed = 0;
};

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s / 60) % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

// The search: a strategy fed by trainer threads. Thread-safe.
class LocalSearch {
 public:
  LocalSearch(const v1::SearchSpec& spec, ga::SearchSpace space,
              std::unique_ptr<ga::Strategy> strategy, const LocalOptions& options,
              std::ostream& err)
      : spec_(spec), space_(std::move(space)), options_(options), err_(err),
        task_hash_(Md5Hex(ga::TaskIdentity(spec.task()))),
        strategy_(std::move(strategy)), rng_(spec.seed()),
        start_(std::chrono::steady_clock::now()) {}

  // Trains genomes until the strategy is done; returns the first setup error.
  absl::Status Work(trainer::Trainer& trainer, int worker) {
    while (true) {
      std::optional<ga::Candidate> candidate = Acquire();
      if (!candidate) break;
      Row row;
      row.candidate = *candidate;
      const ga::Assignment genome = ga::ToAssignment(space_, candidate->genome);
      row.hash = ga::GenomeHash(genome);
      row.seed = ga::TrialSeed(spec_.seed(), row.hash);
      const ga::LedgerKey key{row.hash, task_hash_};
      std::optional<ga::TrialResult> cached;
      {
        absl::MutexLock lock(&mu_);
        if (!spec_.retrain()) cached = ledger_.Lookup(key);
      }
      if (cached) {
        row.result = *cached;
        row.ledger_hit = true;
      } else {
        const std::string model_path =
            (fs::path(options_.out_dir) / absl::StrCat(".trial-", worker, ".pt")).string();
        auto result = trainer.Train(genome, spec_.task(), row.seed, nullptr, model_path);
        if (!result.ok()) {
          Fail(result.status());
          return result.status();
        }
        row.result = *result;
        KeepIfBest(row, model_path);
      }
      Complete(key, std::move(row));
    }
    return absl::OkStatus();
  }

  std::vector<Row> rows() const {
    absl::MutexLock lock(&mu_);
    return rows_;
  }
  absl::Status status() const {
    absl::MutexLock lock(&mu_);
    return failure_;
  }

 private:
  std::optional<ga::Candidate> Acquire() {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (!failure_.ok() || strategy_->Done()) return std::nullopt;
      auto next = strategy_->Next(1, rng_);
      if (!next.ok()) {
        failure_ = next.status();
        return std::nullopt;
      }
      if (!next->empty()) {
        return next->front();
      }
      if (strategy_->Done()) return std::nullopt;
      // A generation barrier: wait for another trainer's result.
      const int64_t reported = reported_;
      while (reported_ == reported && failure_.ok()) changed_.Wait(&mu_);
    }
  }

  void Complete(const ga::LedgerKey& key, Row row) {
    absl::MutexLock lock(&mu_);
    if (!row.ledger_hit) (void)ledger_.Insert(key, row.result);
    const absl::Status s =
        strategy_->Report(row.candidate.id, ga::Fitness{row.result.ok, row.result.accuracy});
    if (!s.ok() && failure_.ok()) failure_ = s;
    if (row.result.ok) best_ = std::max(best_, row.result.accuracy);
    rows_.push_back(std::move(row));
    ++reported_;
    changed_.SignalAll();
    DrawProgressLocked(rows_.back());
  }

  void KeepIfBest(const Row& row, const std::string& model_path) {
    absl::MutexLock lock(&mu_);
    if (row.result.ok && row.result.accuracy > best_saved_) {
      best_saved_ = row.result.accuracy;
      fs::rename(model_path, fs::path(options_.out_dir) / "best_model.pt");
    } else {
      std::error_code ignored;
      fs::remove(model_path, ignored);
    }
  }

  void Fail(const absl::Status& s) {
    absl::MutexLock lock(&mu_);
    if (failure_.ok()) failure_ = s;
    changed_.SignalAll();
  }

  void DrawProgressLocked(const Row& last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const int64_t done = static_cast<int64_t>(rows_.size());
    const int64_t planned = std::max<int64_t>(strategy_->PlannedTrials(), done);
    const double eta = done > 0 ? elapsed / done * (planned - done) : 0;
    const int width = 24;
    const int filled = static_cast<int>(width * done / std::max<int64_t>(planned, 1));
    std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
    const std::string line = absl::StrFormat(
        "gen %d [%s] %d/%d genomes  best %.4f  last %s %s  elapsed %s  ETA %s",
        strategy_->generation(), bar, done, planned, best_, last.hash.substr(0, 8),
        last.result.ok ? absl::StrFormat("%.4f%s", last.result.accuracy,
                                         last.ledger_hit ? " (ledger)" : "")
                       : std::string("failed"),
        FormatDuration(elapsed), FormatDuration(eta));
    if (options_.live && isatty(STDERR_FILENO)) {
      err_ << "\r\033[K" << line << std::flush;
    } else {
      err_ << line << "\n";
    }
  }

  const v1::SearchSpec spec_;
  const ga::SearchSpace space_;
  const LocalOptions& options_;
  std::ostream& err_;
  const std::string task_hash_;  // the task half of every ledger key of this search
  mutable absl::Mutex mu_;
  std::unique_ptr<ga::Strategy> strategy_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  ga::InMemoryLedger ledger_ ABSL_GUARDED_BY(mu_);
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int64_t reported_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar changed_;  // signalled on every result and failure
  double best_ ABSL_GUARDED_BY(mu_) = 0;
  double best_saved_ ABSL_GUARDED_BY(mu_) = -1;
  const std::chrono::steady_clock::time_point start_;
};

void WriteResults(const ga::SearchSpace& space, const std::vector<Row>& rows,
                  const std::string& dir) {
  std::ofstream csv(fs::path(dir) / "genomes.csv");
  std::vector<std::string> header;
  for (const ga::Gene& g : space.genes()) header.push_back(g.name);
  for (const char* c : {"hash", "id", "uid", "mom", "dad", "generation", "accuracy",
                        "test_accuracy", "train_seconds", "epochs_run", "status", "ledger_hit",
                        "seed", "error"}) {
    header.push_back(c);
  }
  csv << absl::StrJoin(header, ",") << "\n";
  nlohmann::json json = nlohmann::json::array();
  for (const Row& r : rows) {
    std::vector<std::string> cells;
    nlohmann::json genes = nlohmann::json::object();
    for (int g = 0; g < space.num_genes(); ++g) {
      const ga::GeneValue& v = space.value(g, r.candidate.genome.choice[g]);
      cells.push_back(ga::GeneValueToString(v));
      if (const auto* i = std::get_if<int64_t>(&v)) {
        genes[space.gene(g).name] = *i;
      } else {
        genes[space.gene(g).name] = std::get<std::string>(v);
      }
    }
    std::string error = r.result.error;
    std::replace(error.begin(), error.end(), ',', ';');
    for (std::string c : std::vector<std::string>{
             r.hash, absl::StrCat(r.candidate.id), absl::StrCat(r.candidate.uid),
          absl::StrCat(r.candidate.parents[0]), absl::StrCat(r.candidate.parents[1]),
          absl::StrCat(r.candidate.generation),
          r.result.ok ? absl::StrFormat("%.6f", r.result.accuracy) : std::string(),
          r.result.ok ? absl::StrFormat("%.6f", r.result.test_accuracy) : std::string(),
          absl::StrFormat("%.3f", r.result.train_seconds), absl::StrCat(r.result.epochs_run),
          std::string(r.result.ok ? "ok" : "failed"), std::string(r.ledger_hit ? "1" : "0"), absl::StrCat(r.seed), error}) {
      cells.push_back(std::move(c));
    }
    csv << absl::StrJoin(cells, ",") << "\n";
    nlohmann::json j = {{"genes", genes},
                        {"hash", r.hash},
                        {"id", r.candidate.id},
                        {"uid", r.candidate.uid},
                        {"parents", {r.candidate.parents[0], r.candidate.parents[1]}},
                        {"generation", r.candidate.generation},
                        {"status", r.result.ok ? "ok" : "failed"},
                        {"train_seconds", r.result.train_seconds},
                        {"epochs_run", r.result.epochs_run},
                        {"ledger_hit", r.ledger_hit},
                        {"seed", r.seed}};
    if (r.result.ok) {
      j["accuracy"] = r.result.accuracy;
      j["test_accuracy"] = r.result.test_accuracy;
    } else {
      j["error"] = r.result.error;
    }
    json.push_back(std::move(j));
  }
  std::ofstream(fs::path(dir) / "genomes.json") << json.dump(2) << "\n";
}

}  // namespace

int RunLocal(const LocalOptions& options, std::ostream& out, std::ostream& err) {
  auto resolved = ga::ResolveSearchSpec(options.spec);
  if (!resolved.ok()) {
    err << "deepevolve local: bad search spec: " << resolved.status().message() << "\n";
    return 1;
  }
  v1::SearchSpec spec = *std::move(resolved);
  if (spec.seed() == 0) spec.set_seed(std::random_device{}() | 1);
  auto space = ga::SearchSpace::FromProto(spec.space());
  auto strategy = ga::MakeStrategy(*space, spec);
  if (!strategy.ok()) {
    err << "deepevolve local: " << strategy.status().message() << "\n";
    return 1;
  }
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) {
    err << "deepevolve local: cannot create output directory '" << options.out_dir
        << "': " << ec.message() << "\n";
    return 1;
  }

  const int cores = trainer::AvailableCores();
  const int trainers = options.trainers > 0 ? options.trainers : std::max(1, cores / 2);
  const int threads = options.threads_per_trainer > 0 ? options.threads_per_trainer
                                                       : std::max(1, cores / trainers);
  std::vector<std::unique_ptr<trainer::Trainer>> pool;
  for (int i = 0; i < trainers; ++i) {
    trainer::TrainerOptions o;
    o.data_dirs = options.data_dirs;
    o.device = options.device;
    o.threads = threads;
    auto t = trainer::Trainer::Create(o);
    if (!t.ok()) {
      err << "deepevolve local: " << t.status().message() << "\n";
      return 1;
    }
    pool.push_back(*std::move(t));
  }

  const auto& task = spec.task();
  err << absl::StrFormat(
      "deepevolve local: %s on %s (%s, %d epochs, batch %d%s), %s, seed %d; %d trainer%s x %d "
      "thread%s on %s; results in %s\n",
      spec.preset().empty() ? "custom space" : spec.preset(), task.dataset(),
      v1::NetKind_Name(task.net()), task.epochs(), task.batch_size(),
      task.train_limit() > 0 ? absl::StrCat(", first ", task.train_limit(), " examples") : "",
      spec.has_generational()
          ? absl::StrFormat("generational %dx%d%s", spec.generational().population(),
                            spec.generational().generations(),
                            spec.deepevolve_compat() ? " (compat)" : "")
          : spec.has_steady_state() ? "steady_state" : spec.has_random() ? "random" : "grid",
      spec.seed(), trainers, trainers == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
      pool[0]->device(), options.out_dir);

  LocalSearch search(spec, *space, *std::move(strategy), options, err);
  std::vector<std::thread> workers;
  std::vector<absl::Status> statuses(trainers);
  for (int i = 0; i < trainers; ++i) {
    workers.emplace_back([&, i] { statuses[i] = search.Work(*pool[i], i); });
  }
  for (auto& w : workers) w.join();
  if (options.live && isatty(STDERR_FILENO)) err << "\n";

  std::vector<Row> rows = search.rows();
  WriteResults(*space, rows, options.out_dir);
  if (absl::Status s = search.status(); !s.ok()) {
    err << "deepevolve local: search stopped: " << s.message() << "\n"
        << "(" << rows.size() << " genomes recorded in " << options.out_dir << ")\n";
    return 1;
  }

  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return (a.result.ok ? a.result.accuracy : -1) > (b.result.ok ? b.result.accuracy : -1);
  });
  const int failed = static_cast<int>(std::count_if(rows.begin(), rows.end(),
                                                    [](const Row& r) { return !r.result.ok; }));
  out << absl::StrFormat("\nTop 5 of %d genomes (%d failed); fitness = %s accuracy\n", rows.size(),
                         failed, task.validation() == v1::HOLDOUT ? "validation" : "test-set");
  out << absl::StrFormat("%-4s %-58s %8s %8s %5s %9s %4s  %s\n", "rank", "genome", "accuracy",
                         "test", "id", "parents", "gen", "hash");
  for (size_t i = 0; i < std::min<size_t>(5, rows.size()); ++i) {
    const Row& r = rows[i];
    if (!r.result.ok) break;
    out << absl::StrFormat("%-4d %-58s %7.2f%% %7.2f%% %5d %4d %4d %4d  %s\n", i + 1,
                           ga::DescribeGenome(*space, r.candidate.genome),
                           100 * r.result.accuracy, 100 * r.result.test_accuracy, r.candidate.uid,
                           r.candidate.parents[0], r.candidate.parents[1], r.candidate.generation,
                           r.hash);
  }
  out << "\nAll genomes: " << (fs::path(options.out_dir) / "genomes.csv").string() << " and "
      << "genomes.json; best model: "
      << (fs::path(options.out_dir) / "best_model.pt").string() << "\n";
  return 0;
}

}  // namespace deepevolve::cli
