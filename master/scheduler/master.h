// The master's core: every search's strategy, the trial queue, leases, the worker
// registry and the ledger, with each change committed to the Store before it is
// acknowledged. The gRPC layer (master/service) only converts messages.
//
// It ties named parts together under one mutex: SearchRun (one search's strategy,
// trials and queue), LeaseTable (who holds which genome until when), WorkerRegistry
// (who registered) and GroupCommit (operations as steps of a batch transaction,
// committed and synced together; it releases the mutex only while it syncs).
//
// Thread-safe: one mutex serialises every operation (the store is one SQLite
// connection); Acquire and WaitEvents wait on condition variables without holding it.
// An acknowledged result is durable as --durability says. Readers may see a step
// before it is durable; WaitEvents returns only durable events.
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_MASTER_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_MASTER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/histogram.h"
#include "deepevolve/v1/service.pb.h"
#include "master/scheduler/group_commit.h"
#include "master/scheduler/lease_table.h"
#include "master/scheduler/search_run.h"
#include "master/scheduler/worker_registry.h"
#include "master/store/model_files.h"
#include "master/store/store.h"

namespace deepevolve::master {

struct MasterOptions {
  // A lease lasts this long without a heartbeat.
  int64_t lease_ms = 30'000;
  // A trial's time budget (LeaseTable::Options): its first epoch may take this long,
  // each later one 4 times the mean epoch so far (at least a minute, at most this). A
  // trial past its budget (a hung trainer whose heartbeats still come) is requeued as
  // a lost lease.
  int64_t max_epoch_ms = 3'600'000;
  // Failures caused by the genome (NaN, out of memory) before it is recorded failed.
  int max_genome_attempts = 2;
  // Leases lost with their workers before the genome is given up.
  int max_lost_leases = 5;
  // Acquire holds a call open at most this long.
  int64_t max_wait_ms = 30'000;
  // Searches running at once; Submit answers RESOURCE_EXHAUSTED beyond.
  int max_running_searches = 100;
  // What only fencing and the worker list need is forgotten after this long: a
  // reported lease (a repeat of its report is then answered as fenced) and a worker
  // heard from neither by Acquire, Report nor Heartbeat and holding no lease (it
  // registers again when it comes back, as after a master restart).
  // --forget-after-seconds.
  int64_t forget_after_ms = 3'600'000;
  // The largest checkpoint kept (--max-checkpoint-mb); one per running trial, so the
  // master's disk holds at most this times the leases.
  int64_t max_checkpoint_bytes = int64_t{512} << 20;
  // --checkpoint-dir: where checkpoints are kept, a directory the workers may share (a
  // ReadWriteMany volume, NFS): a worker that shares it writes its checkpoints there and
  // reads the one it resumes from there, sending and fetching no bytes. Empty: DB.checkpoints
  // beside the database, the master's alone.
  std::string checkpoint_dir;
};

// Counters for /metrics and benchmarks.
struct MasterStats {
  int64_t queued = 0;
  int64_t leases_active = 0;
  int64_t leases_expired = 0;
  int64_t reports_fenced = 0;
  int64_t reports_refused = 0;     // from a caller that does not hold the lease
  int64_t heartbeats_refused = 0;  // likewise
  int64_t setup_failures = 0;      // trials a worker could not set up
  int64_t genomes_done = 0;
  int64_t genomes_failed = 0;
  int64_t genomes_pruned = 0;
  int64_t ledger_hits = 0;
  int64_t ledger_entries = 0;
  int64_t workers = 0;
  int64_t checkpoints = 0;          // on the master's disk now, one per running trial
  int64_t checkpoint_bytes = 0;     // their size (both counted from the files the records name)
  int64_t checkpoints_saved = 0;    // accepted since the master started
  int64_t checkpoints_refused = 0;  // from a lease not live or not the sender's, or stale
  int64_t resumes = 0;              // trials handed out to resume from a checkpoint
  int64_t store_steps = 0;          // operations written to the store
  int64_t store_commits = 0;        // batches committed (several steps each under load)
  int64_t store_syncs = 0;          // WAL syncs (each covers every commit before it)
  int64_t store_checkpoints = 0;    // WAL copied back into the database (in the background)
  int64_t store_wal_restarts = 0;   // the WAL started again from its beginning
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
  // Pages are asked and answered in the protocol's messages, packed once here for gRPC
  // and HTTP alike.
  // At most page_size searches (0 for 100, at most 1000) with ids below
  // before_search_id (0: from the newest), newest first; finished ones read from the
  // store. next_before_search_id continues, 0 after the last page.
  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request);
  // The searches in memory: running, or finished with trials still leased.
  std::vector<v1::SearchSummary> Running();
  // Those and the searches retired in the last forget_after_ms (at most
  // max_running_searches of them), newest first: what /metrics exports a series for.
  std::vector<v1::SearchSummary> Current();
  absl::StatusOr<v1::SearchSummary> Cancel(int64_t search_id);
  // The best `limit` trials (0 for 10, at most kMaxPage), best first
  // (genome/trial_rank.h).
  absl::StatusOr<v1::LeaderboardResponse> Leaderboard(const v1::LeaderboardRequest& request);
  // A page of a search's trials in genome-id order: at most page_size (0 for 1000, at
  // most kMaxPage) after after_genome_id. next_after_genome_id continues, 0 after the
  // last page.
  static constexpr int kMaxPage = 10'000;
  absl::StatusOr<v1::ListTrialsResponse> ListTrials(const v1::ListTrialsRequest& request);
  absl::StatusOr<v1::Model> GetModel(int64_t search_id, int64_t genome_id);
  // Finished trainings from elsewhere into the ledger under the spec's task (see
  // SearchService.ImportTrials): all checked first, then all recorded in one durable
  // step, or none. At most kMaxImported.
  static constexpr int kMaxImported = 100'000;
  absl::StatusOr<v1::ImportTrialsResponse> ImportTrials(const v1::ImportTrialsRequest& request)
      ABSL_LOCKS_EXCLUDED(mu());
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
  // An epoch's progress with the trial's state after it (a checkpoint, whole: the
  // service joins the chunks), recorded as the heartbeat and, in the same step,
  // durably, as the checkpoint the trial resumes from — when the lease is live and the
  // sender's, the search takes checkpoints, the trial was not stopped, and the epoch is
  // newer than the stored checkpoint's and the last reported or the next. Otherwise
  // accepted = false with the reason, nothing recorded (the worker sends a plain
  // heartbeat); PERMISSION_DENIED for a lease another worker holds, as Heartbeat. The
  // older checkpoint is removed once the newer one is recorded.
  // With `shared_file` (no data), the worker wrote the checkpoint in the shared
  // checkpoint directory under that staging name (StagedFiles::Claim): it is moved into
  // place, or removed when refused. FAILED_PRECONDITION from a master without a shared
  // directory.
  absl::StatusOr<v1::SaveCheckpointResponse> SaveCheckpoint(const v1::HeartbeatRequest& progress,
                                                            const std::string& data,
                                                            const std::string& shared_file = "");
  // SaveCheckpoint's checks before its data is read: a response with the reason when it
  // would not be kept, an empty one when it may be.
  absl::StatusOr<v1::SaveCheckpointResponse> CheckpointWanted(const v1::HeartbeatRequest& progress);
  // The checkpoint the lease's trial resumes from, for its live holder: its epoch and
  // bytes. NOT_FOUND when the master holds none (or its file is gone).
  struct Checkpoint {
    int epoch = 0;
    std::string data;
  };
  absl::StatusOr<Checkpoint> GetCheckpoint(const v1::GetCheckpointRequest& request);

  // Expires leases past their deadline and forgets what forget_after_ms lets go. Called
  // by a timer in the server, and by tests.
  absl::Status Tick();

  // Wakes every waiting call; later Acquire calls fail with UNAVAILABLE.
  void Shutdown();

  MasterStats Stats();
  const MasterOptions& options() const { return options_; }
  // How long commits (under the master's lock) and WAL syncs (outside it) take.
  const Histogram& commit_seconds() const { return commit_.commit_seconds(); }
  const Histogram& sync_seconds() const { return commit_.sync_seconds(); }
  std::vector<WorkerInfo> Workers();
  // OK while the master serves; UNAVAILABLE once its store failed or it is shutting down.
  absl::Status Health();

 private:
  Master(std::unique_ptr<store::Store> store, const Clock* clock, MasterOptions options);
  absl::Status Recover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());

  // Runs `body` as one step of the batch (GroupCommit::Step), then retires every
  // search that ended and has no trial leased any more. A reference to a SearchRun
  // does not outlive the step it was taken in.
  absl::Status Step(absl::FunctionRef<absl::Status()> body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Stores a finished search's final summary and leaderboard and forgets it: from then
  // on it is read from the store.
  static constexpr int kStoredLeaderboard = 100;
  // Leaderboard's trials: the live ranking, or a finished search's stored one.
  absl::StatusOr<std::vector<v1::Trial>> RankedTrials(int64_t search_id, int limit)
      ABSL_LOCKS_EXCLUDED(mu());
  // A warm start naming an earlier search, with that search's best genomes written in
  // (by gene name); one that names none, or already lists genomes, as it is.
  absl::StatusOr<v1::WarmStart> WarmStartFrom(const v1::WarmStart& asked) ABSL_LOCKS_EXCLUDED(mu());
  absl::Status Retire(SearchRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // The run's summary with, while it runs, why no worker can train it (if none can).
  v1::SearchSummary Summarize(const SearchRun& run) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // The summary of a search in memory or, when finished, from the store.
  absl::StatusOr<v1::SearchSummary> Summary(int64_t search_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  absl::Mutex* mu() const ABSL_LOCK_RETURNED(commit_.mu()) { return commit_.mu(); }

  // Asks the search's strategy for genomes until `want` are queued or it has none to
  // give now; answers ledger hits on the spot.
  absl::Status FillQueue(SearchRun& run, size_t want) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // After a result: a generational search breeds its next generation as soon as this
  // one is in; the others breed when a worker asks.
  absl::Status Refill(SearchRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Answers a genome the ledger already holds a result for.
  absl::Status AnswerFromLedger(SearchRun& run, v1::Trial& t, const genome::TrialResult& hit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Gives the strategy a result and logs it.
  absl::Status ReportToStrategy(SearchRun& run, const v1::Trial& trial, bool ok, double accuracy,
                                bool pruned) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  absl::Status CheckDone(SearchRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Ends a running search in `state`, abandoning its queue.
  absl::Status EndSearch(SearchRun& run, v1::SearchState state, const std::string& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // A genome for this worker (incarnation) from a running search that does not
  // exclude it, round robin over the searches.
  absl::StatusOr<std::optional<v1::Assignment>> TryAssign(const std::string& worker_id,
                                                          int64_t incarnation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  absl::StatusOr<v1::Assignment> Assign(SearchRun& run, int64_t genome_id,
                                        const std::string& worker_id, int64_t incarnation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // The next genome for the worker that reported, when it asked for one and is
  // registered in the incarnation it reports from.
  absl::Status AssignNext(const v1::ReportRequest& request, v1::ReportResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  absl::Status ExpireLeases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Heartbeat under the lock, validated; with `checkpoint_epoch` > 0 the trial's record
  // names that epoch's checkpoint, stored in the same step as the progress.
  absl::StatusOr<v1::HeartbeatResponse> RecordHeartbeat(const v1::HeartbeatRequest& request,
                                                        int checkpoint_epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Running searches submitted on a trainer name without a version that no worker
  // offered then: pinned to the newest version an active worker offers now.
  absl::Status PinWaitingSearches() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // How recently a worker must have been seen to choose a trainer's version.
  int64_t ActiveWorkerMs() const { return 2 * options_.lease_ms; }
  // Puts the genome of a lease that ended without a result back in the queue, or
  // gives it up after max_lost_leases. `released`: its worker handed it back (draining)
  // rather than letting it expire.
  absl::Status Requeue(const Lease& lease, bool released = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // The stages of Report, for a live lease: a failed attempt to retry, or a result.
  absl::Status RecordRetry(SearchRun& run, v1::Trial& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // The worker could not set the trial up: the genome goes back to the queue, the
  // worker may be excluded from the search, and a search no registered worker can set
  // up fails.
  absl::Status RecordSetupFailure(SearchRun& run, v1::Trial& t, const std::string& worker_id,
                                  const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // What a recorded result does to the model files, done once the result is durable
  // (a crash before that leaves the files as they were).
  struct ModelChange {
    // The report's staged model becomes this key's: its result made the key's ledger
    // entry and is its search's new best.
    std::optional<genome::LedgerKey> publish;
    // This key's file, if any, is another training's than its new ledger entry.
    std::optional<genome::LedgerKey> remove;
  };
  // `has_model`: the report's model is staged. A trial the pruner stopped is recorded
  // PRUNED with the accuracy of the epoch it was stopped at, whatever the report says
  // but its test accuracy. `change` (may be null) receives what the model files need.
  absl::Status RecordResult(SearchRun& run, v1::Trial& t, const v1::ReportRequest& request,
                            bool has_model, ModelChange* change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Whether a report's model is worth staging: its lease is live and the caller's, and
  // the store works.
  bool MayStageModel(const v1::ReportRequest& request) ABSL_LOCKS_EXCLUDED(mu());
  // Report under the lock, with the report's model staged. `*published`: the staged
  // model was moved into place.
  absl::StatusOr<v1::ReportResponse> RecordReport(const v1::ReportRequest& request,
                                                  const std::optional<std::string>& staged,
                                                  bool* published) ABSL_LOCKS_EXCLUDED(mu());

  // The one event builder: an event of `run` of this kind, with the trial (when
  // given) or the search's summary (for search and generation events).
  v1::Event NewEvent(const SearchRun& run, v1::Event::Kind kind, const v1::Trial* trial,
                     std::string message = "") const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  absl::Status Emit(SearchRun& run, v1::Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Stores the trial and emits its event.
  absl::Status PutTrial(SearchRun& run, const v1::Trial& t, v1::Event::Kind kind,
                        std::string message = "") ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  absl::StatusOr<SearchRun*> FindRun(int64_t search_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  absl::Status CountIn(const char* counter, int64_t* value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Why a checkpoint with this progress is not kept ("" when it may be, and `*id` names
  // its file), or PERMISSION_DENIED when another worker holds the lease.
  absl::StatusOr<std::string> CheckpointRefusal(const v1::HeartbeatRequest& progress,
                                                store::CheckpointFiles::Id* id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Removes the trial's checkpoint, if it has one: it ended, or trains from its first
  // epoch again.
  void DropCheckpoint(v1::Trial& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Population-based training: removes the checkpoints of finished rounds that no
  // round will go on from (those of the latest round stay until the next is decided;
  // every one once the search ended).
  absl::Status ReleaseRoundCheckpoints(SearchRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Removes a checkpoint file and forgets its size.
  void RemoveCheckpointFile(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());
  // Removes checkpoint files that no running trial's record names (a master stopped
  // between writing a newer one and removing the older), and counts the rest.
  void SweepCheckpoints() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu());

  const Clock* clock_;
  const MasterOptions options_;
  std::unique_ptr<store::Store> store_ ABSL_PT_GUARDED_BY(mu());
  std::unique_ptr<store::SqliteLedger> ledger_ ABSL_PT_GUARDED_BY(mu());
  // Thread-safe; set once by Create.
  std::optional<store::ModelFiles> models_;
  std::optional<store::CheckpointFiles> checkpoints_;
  // The size of each checkpoint file a trial's record names, by file name.
  std::map<std::string, int64_t> checkpoint_sizes_ ABSL_GUARDED_BY(mu());
  // Held only through commit_.mu(), so that the analysis sees one lock.
  absl::Mutex mu_;
  GroupCommit commit_;
  absl::CondVar work_cv_;  // a genome was queued, the store broke, or shutdown
  // Searches running, or ended with trials still leased.
  std::map<int64_t, std::unique_ptr<SearchRun>> runs_ ABSL_GUARDED_BY(mu());
  // Those of runs_ that ended: retired once no trial of theirs is leased.
  absl::flat_hash_set<int64_t> ending_ ABSL_GUARDED_BY(mu());
  // Retired searches (finished, read from the store): id -> sequence of their last event.
  absl::flat_hash_map<int64_t, int64_t> finished_ ABSL_GUARDED_BY(mu());
  // The final summaries of the searches retired last, oldest first (for Current).
  std::deque<v1::SearchSummary> recent_ ABSL_GUARDED_BY(mu());
  LeaseTable leases_ ABSL_GUARDED_BY(mu());
  WorkerRegistry workers_ ABSL_GUARDED_BY(mu());
  int64_t round_robin_ ABSL_GUARDED_BY(mu()) = 0;
  MasterStats stats_ ABSL_GUARDED_BY(mu());
  bool shutdown_ ABSL_GUARDED_BY(mu()) = false;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_MASTER_H_
