// The master's durable state in one SQLite file (WAL): searches, their trials, the log
// of strategy operations that rebuilds each search's GA state after a restart, the
// global genome ledger, events, the best model of each search, and counters.
//
// Not thread-safe: the master serialises access. Mutations outside a transaction (the
// master's batches) are committed one statement at a time.
#ifndef DEEPEVOLVE_MASTER_STORE_STORE_H_
#define DEEPEVOLVE_MASTER_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/service.pb.h"
#include "genome/ledger.h"
#include "master/store/sqlite.h"

namespace deepevolve::store {

// One step of a search's strategy, in the order it happened: a genome handed out by
// Next, or a result given to Report. Replaying them rebuilds the strategy.
struct StrategyOp {
  enum Kind { kNext = 0, kReport = 1 };
  int64_t seq = 0;
  Kind kind = kNext;
  int64_t genome_id = 0;
  bool ok = true;
  double accuracy = 0;
  bool pruned = false;  // the result of a genome the pruner stopped
};

// A search that finished and whose final summary and leaderboard are stored: the
// master keeps only this of it in memory.
struct FinishedSearch {
  int64_t search_id = 0;
  int64_t last_event = 0;  // the sequence of its last event
};

class Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     Durability durability = Durability::kFull);

  Database& db() { return *db_; }

  // The master's batches (master/scheduler/group_commit.h): one transaction holding
  // many operations, each a savepoint that can be rolled back alone.
  absl::Status BeginBatch() { return db_->ExecCached("BEGIN IMMEDIATE"); }
  absl::Status BeginStep() { return db_->ExecCached("SAVEPOINT step"); }
  // Releases the step's savepoint, after rolling the step back unless `keep`.
  absl::Status EndStep(bool keep);
  absl::Status CommitBatch() { return db_->ExecCached("COMMIT"); }

  // Searches: the summary holds the resolved spec, name, state and times.
  absl::StatusOr<int64_t> InsertSearch(const v1::SearchSummary& summary);
  absl::Status UpdateSearch(const v1::SearchSummary& summary);
  // Every search but those finished with their final summary stored (PutFinished).
  absl::StatusOr<std::vector<v1::SearchSummary>> LoadSearches();

  // A finished search: its final summary, its last event, its best trials in order
  // (the leaderboard the master answers from), and the genome ids of all its ranked
  // trials in order (for longer leaderboards). Deletes its GENOME_PROGRESS events,
  // whose points its trials' curves hold.
  absl::Status PutFinished(const v1::SearchSummary& summary, int64_t last_event,
                           const std::vector<const v1::Trial*>& leaderboard,
                           const std::vector<int64_t>& ranking);
  absl::StatusOr<std::vector<FinishedSearch>> LoadFinishedIndex();
  absl::StatusOr<std::optional<v1::SearchSummary>> LoadFinished(int64_t search_id);
  // At most `limit` finished searches' final summaries with ids below `before_id`
  // (0: any), newest first.
  absl::StatusOr<std::vector<v1::SearchSummary>> ListFinished(int64_t before_id, int limit);
  // The first `limit` of the stored leaderboard.
  absl::StatusOr<std::vector<v1::Trial>> LoadLeaderboard(int64_t search_id, int limit);
  // The first `limit` trials of the stored ranking, read a page at a time from the
  // trials: none for a search finished before rankings were stored.
  absl::StatusOr<std::vector<v1::Trial>> LoadRanked(int64_t search_id, int limit);

  // Trials, keyed by (search_id, genome.id).
  absl::Status PutTrial(const v1::Trial& trial);
  absl::StatusOr<std::vector<v1::Trial>> LoadTrials(int64_t search_id);
  // At most `limit` trials with genome ids above `after_genome_id`, in id order.
  absl::StatusOr<std::vector<v1::Trial>> LoadTrialsPage(int64_t search_id, int64_t after_genome_id,
                                                        int limit);
  absl::StatusOr<std::optional<v1::Trial>> LoadTrial(int64_t search_id, int64_t genome_id);

  absl::Status AppendOp(int64_t search_id, const StrategyOp& op);
  absl::StatusOr<std::vector<StrategyOp>> LoadOps(int64_t search_id);

  // Events carry their global sequence number, which the caller assigns (one more
  // than the last, see LastEventSequence).
  absl::Status AppendEvent(const v1::Event& event);
  // A search's events with after_sequence < sequence <= up_to, in order, at most `limit`.
  absl::StatusOr<std::vector<v1::Event>> LoadEvents(int64_t search_id, int64_t after_sequence,
                                                    int64_t up_to, int limit);
  absl::StatusOr<int64_t> LastEventSequence();

  // A trained model under the ledger entry it is the result of, as masters before
  // model files (model_files.h) kept them: read only.
  absl::StatusOr<std::optional<std::string>> LoadLedgerModel(const genome::LedgerKey& key);

  // The best model of a search, as masters before ledger-keyed models kept it (read
  // only, for searches recorded then).
  absl::StatusOr<std::optional<std::pair<int64_t, std::string>>> LoadModel(int64_t search_id);

  // Named counters (lease ids, fenced reports).
  absl::StatusOr<int64_t> Counter(const std::string& name);
  absl::Status SetCounter(const std::string& name, int64_t value);

 private:
  explicit Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  std::unique_ptr<Database> db_;
};

// The global ledger in the same database: every genome trained on a task, once.
class SqliteLedger : public genome::Ledger {
 public:
  explicit SqliteLedger(Store* store) : store_(store) {}
  // Counts the entries (a count of a large ledger reads every page of it): once, before
  // any other call; from then on the count is kept as entries are inserted.
  absl::Status Load();
  absl::StatusOr<std::optional<genome::TrialResult>> Lookup(
      const genome::LedgerKey& key) const override;
  absl::Status Insert(const genome::LedgerKey& key, const genome::TrialResult& result) override;
  int64_t Count() const override { return count_; }
  // Takes the count back to `count` (Count() before a step the store rolled back).
  void RolledBack(int64_t count) { count_ = count; }

 private:
  Store* store_;
  int64_t count_ = 0;
};

}  // namespace deepevolve::store

#endif  // DEEPEVOLVE_MASTER_STORE_STORE_H_
