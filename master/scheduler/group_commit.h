// Group commit: the master's operations as steps of one batch transaction, committed
// and synced together, and the events they wrote made visible once durable.
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_GROUP_COMMIT_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_GROUP_COMMIT_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/histogram.h"
#include "deepevolve/v1/service.pb.h"
#include "master/store/store.h"

namespace deepevolve::master {

// Each operation that changes state runs as one Step (a savepoint) of the open batch
// transaction and then calls AwaitDurable. The first caller of AwaitDurable while no
// sync runs commits the batch and syncs the WAL for every batch written so far,
// releasing the mutex while it syncs; operations that arrive meanwhile fill the next
// batch. An acknowledged operation is durable as the store's Durability says, with one
// commit and one sync shared by all the operations of a batch (leveldb's
// VersionSet::LogAndApply(edit, mu) pattern).
//
// Events are numbered as they are written; `durable_event()` is the last one synced,
// which is all a watcher may see.
//
// A failure of the store leaves memory ahead of the database: from then on every call
// returns UNAVAILABLE naming the failure (restart the master to recover).
//
// Thread-safe under the borrowed mutex: every method but the histograms needs `mu`
// held, and AwaitDurable releases it while it syncs or waits.
class GroupCommit {
 public:
  struct Stats {
    int64_t steps = 0;         // operations written
    int64_t commits = 0;       // batches committed (several steps each under load)
    int64_t syncs = 0;         // WAL syncs (each covers every commit before it)
    int64_t wal_restarts = 0;  // the WAL started again from its beginning
  };

  // `store` and `ledger` outlive this. `on_broken` runs, under `mu`, once the store
  // failed (the owner wakes its waiters).
  GroupCommit(absl::Mutex* mu, store::Store* store, store::SqliteLedger* ledger,
              std::function<void()> on_broken);
  // Commits what the last batch holds (only steps rolled back can be left in it).
  ~GroupCommit();

  // The mutex this serialises on: the master's.
  absl::Mutex* mu() const ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // Runs `body` as one step of the open batch. A step whose body fails with
  // INVALID_ARGUMENT is rolled back alone and the error returned; any other failure
  // breaks the commit and is returned. The caller answers only after AwaitDurable().
  absl::Status Step(absl::FunctionRef<absl::Status()> body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Returns once every step so far is durable, committing and syncing as the leader
  // when no other thread is; releases `mu` while it syncs or waits. UNAVAILABLE once
  // broken.
  absl::Status AwaitDurable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Continues the event numbering after `last_event` (the store's last, at recovery).
  void StartEventsAfter(int64_t last_event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    last_event_ = durable_event_ = written_event_ = last_event;
  }
  // Writes `event` in the current step with the next sequence number and the time
  // given; returns that sequence.
  absl::StatusOr<int64_t> AppendEvent(v1::Event event, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The last event synced.
  int64_t durable_event() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return durable_event_; }
  // Waits until an event becomes durable, WakeEventWaiters is called or `deadline`
  // passes; true when the deadline passed.
  bool WaitForEvents(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeEventWaiters() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { events_cv_.SignalAll(); }

  // OK, or the UNAVAILABLE every call returns since the store failed.
  const absl::Status& broken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return broken_; }
  Stats stats() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stats_; }

  // How long commits (under the mutex) and WAL syncs (outside it) take. Thread-safe.
  const Histogram& commit_seconds() const { return commit_seconds_; }
  const Histogram& sync_seconds() const { return sync_seconds_; }

 private:
  // Records the first failure and wakes every waiter; returns `status`.
  absl::Status Break(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Commit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex* const mu_;
  store::Store* const store_;
  store::SqliteLedger* const ledger_;
  const std::function<void()> on_broken_;
  absl::CondVar sync_cv_;                           // a sync finished
  absl::CondVar events_cv_;                         // an event became durable
  int64_t last_event_ ABSL_GUARDED_BY(mu_) = 0;     // written to the store
  int64_t durable_event_ ABSL_GUARDED_BY(mu_) = 0;  // and synced
  // Batches: the last one begun, whether it is still open, the last committed and the
  // last synced, and the last event of the last committed one.
  int64_t batch_ ABSL_GUARDED_BY(mu_) = 0;
  bool batch_open_ ABSL_GUARDED_BY(mu_) = false;
  bool batch_written_ ABSL_GUARDED_BY(mu_) = false;  // a step of the open batch wrote
  int64_t written_batch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t synced_batch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t written_event_ ABSL_GUARDED_BY(mu_) = 0;
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  Histogram commit_seconds_;
  Histogram sync_seconds_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_GROUP_COMMIT_H_
