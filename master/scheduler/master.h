// The master's core: every search's strategy, the trial queue, leases, the worker
// registry and the ledger, with each change committed to the Store before it is
// acknowledged. The gRPC layer (master/service) only converts messages.
//
// Thread-safe: one mutex serialises every operation (the store is one SQLite
// connection); Acquire and WaitEvents wait on condition variables without holding it.
//
// Group commit: each operation that changes state runs as one step (a SAVEPOINT) of the
// open batch transaction and then waits, without the mutex, until its batch is durable.
// The first waiter while no sync is running commits the batch and syncs the WAL for
// every batch written so far; operations that arrive meanwhile fill the next batch. An
// acknowledged result is durable as --durability says, with one commit and one sync
// shared by all the operations of a batch. Readers may see a step before it is durable;
// WaitEvents returns only durable events.
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_MASTER_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_MASTER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/histogram.h"
#include "deepevolve/v1/service.pb.h"
#include "master/ga/space.h"
#include "master/ga/strategy.h"
#include "master/store/store.h"

namespace deepevolve::master {

struct MasterOptions {
  // A lease lasts this long without a heartbeat.
  int64_t lease_ms = 30'000;
  // Failures caused by the genome (NaN, out of memory) before it is recorded failed.
  int max_genome_attempts = 2;
  // Leases lost with their workers before the genome is given up.
  int max_lost_leases = 5;
  // Acquire holds a call open at most this long.
  int64_t max_wait_ms = 30'000;
};

// Counters for /metrics and benchmarks.
struct MasterStats {
  int64_t queued = 0;
  int64_t leases_active = 0;
  int64_t leases_expired = 0;
  int64_t reports_fenced = 0;
  int64_t genomes_done = 0;
  int64_t genomes_failed = 0;
  int64_t ledger_hits = 0;
  int64_t ledger_entries = 0;
  int64_t workers = 0;
  int64_t store_steps = 0;    // operations written to the store
  int64_t store_commits = 0;  // batches committed (several steps each under load)
  int64_t store_syncs = 0;    // WAL syncs (each covers every commit before it)
  int64_t store_checkpoints = 0;  // WAL copied back into the database (in the background)
  int64_t store_wal_restarts = 0;  // the WAL started again from its beginning
};

// What a worker registered with, and what it is doing.
struct WorkerInfo {
  std::string worker_id;
  int64_t incarnation = 0;
  std::vector<std::string> devices;
  int64_t last_seen_ms = 0;
};

class Master {
 public:
  // Opens the master on `store`, recovering every search recorded there: strategies
  // are rebuilt by replaying their logged operations, queued genomes are queued again,
  // and open leases get a fresh deadline so their workers can still report.
  static absl::StatusOr<std::unique_ptr<Master>> Create(std::unique_ptr<store::Store> store,
                                                        const Clock* clock,
                                                        MasterOptions options = {});
  ~Master();

  // --- For clients (SearchService) ---
  absl::StatusOr<v1::SearchSummary> Submit(const v1::SearchSpec& spec);
  absl::StatusOr<v1::SearchSummary> Get(int64_t search_id);
  std::vector<v1::SearchSummary> List();
  absl::StatusOr<v1::SearchSummary> Cancel(int64_t search_id);
  absl::StatusOr<std::vector<v1::Trial>> Leaderboard(int64_t search_id, int limit);
  absl::StatusOr<std::vector<v1::Trial>> Trials(int64_t search_id);
  absl::StatusOr<v1::Model> GetModel(int64_t search_id, int64_t genome_id);
  // Events of a search after `after_sequence`, waiting up to `timeout` for one when
  // there are none yet. `*finished` is set once the search has ended and every event
  // has been returned.
  absl::StatusOr<std::vector<v1::Event>> WaitEvents(int64_t search_id, int64_t after_sequence,
                                                    absl::Duration timeout, bool* finished);

  // --- For workers (WorkerService) ---
  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& request);
  // Waits (real time, up to wait_ms) for work.
  absl::StatusOr<v1::AcquireResponse> Acquire(const v1::AcquireRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& request);

  // Expires leases past their deadline. Called by a timer in the server, and by tests.
  absl::Status Tick();

  // Wakes every waiting call; later Acquire calls fail with UNAVAILABLE.
  void Shutdown();

  MasterStats Stats();
  // How long commits (under the master's lock) and WAL syncs (outside it) take.
  const Histogram& commit_seconds() const { return commit_seconds_; }
  const Histogram& sync_seconds() const { return sync_seconds_; }
  std::vector<WorkerInfo> Workers();
  // OK while the master serves; UNAVAILABLE once its store failed or it is shutting down.
  absl::Status Health();

 private:
  struct SearchRun;
  struct Lease {
    int64_t id = 0;
    int64_t search_id = 0;
    int64_t genome_id = 0;
    std::string worker_id;
    int64_t deadline_ms = 0;
  };

  Master(std::unique_ptr<store::Store> store, const Clock* clock, MasterOptions options);
  absl::Status Recover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<SearchRun>> BuildRun(const v1::SearchSummary& summary);

  // Asks the search's strategy for genomes until `want` are queued or it has none to
  // give now; answers ledger hits on the spot.
  absl::Status FillQueue(SearchRun& run, size_t want) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives the strategy a result and moves the search on (generation and search done).
  absl::Status ReportToStrategy(SearchRun& run, v1::Trial& trial, bool ok, double accuracy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckDone(SearchRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FailSearch(SearchRun& run, const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<v1::Assignment>> TryAssign(const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ExpireLeases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Requeue(Lease lease, bool lost) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Emit(v1::Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutTrial(const v1::Trial& trial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::SearchSummary Summarize(const SearchRun& run) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<SearchRun*> FindRun(int64_t search_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens the batch transaction if none is open, then a savepoint for one step.
  absl::Status BeginStep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Releases the step's savepoint, or rolls the step back alone.
  absl::Status EndStep(bool keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns once every step so far is durable, committing and syncing as the leader
  // when no other thread is; releases mu_ while it syncs or waits.
  absl::Status AwaitDurable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A failure of the store leaves memory ahead of the database: the master refuses
  // every later call (restart it to recover from the database).
  absl::Status Broken(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* clock_;
  const MasterOptions options_;
  absl::Mutex mu_;
  absl::CondVar work_cv_;    // a genome was queued, or shutdown
  absl::CondVar events_cv_;  // an event became durable
  absl::CondVar sync_cv_;    // a sync finished
  std::unique_ptr<store::Store> store_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<store::SqliteLedger> ledger_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::unique_ptr<SearchRun>> runs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, Lease> leases_ ABSL_GUARDED_BY(mu_);
  // Leases whose report was accepted, for idempotent repeats: lease id -> (search, genome).
  absl::flat_hash_map<int64_t, std::pair<int64_t, int64_t>> reported_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);
  int64_t next_lease_id_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t lease_ids_reserved_ ABSL_GUARDED_BY(mu_) = 1;  // ids below are stored as used
  int64_t last_event_ ABSL_GUARDED_BY(mu_) = 0;     // written to the store
  int64_t durable_event_ ABSL_GUARDED_BY(mu_) = 0;  // and synced
  // Batches: the last one begun, whether it is still open, the last committed and the
  // last synced, and the last event of the last committed one.
  int64_t batch_ ABSL_GUARDED_BY(mu_) = 0;
  bool batch_open_ ABSL_GUARDED_BY(mu_) = false;
  int64_t written_batch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t synced_batch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t written_event_ ABSL_GUARDED_BY(mu_) = 0;
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  Histogram commit_seconds_;
  Histogram sync_seconds_;
  int64_t round_robin_ ABSL_GUARDED_BY(mu_) = 0;
  MasterStats stats_ ABSL_GUARDED_BY(mu_);
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_MASTER_H_
