#include "master/scheduler/group_commit.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace deepevolve::master {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GroupCommit::GroupCommit(absl::Mutex* mu, store::Store* store, store::SqliteLedger* ledger,
                         std::function<void()> on_broken)
    : mu_(mu), store_(store), ledger_(ledger), on_broken_(std::move(on_broken)) {}

GroupCommit::~GroupCommit() {
  absl::MutexLock lock(mu_);
  if (batch_open_ && broken_.ok()) (void)store_->CommitBatch();
}

absl::Status GroupCommit::Break(const absl::Status& status) {
  if (broken_.ok()) {
    broken_ = absl::UnavailableError(absl::StrCat("the master's database ", store_->db().path(),
                                                  " failed (", status.message(),
                                                  "); restart the master to recover from it"));
  }
  sync_cv_.SignalAll();
  events_cv_.SignalAll();
  if (on_broken_) on_broken_();
  return status;
}

absl::Status GroupCommit::Step(absl::FunctionRef<absl::Status()> body) {
  if (!broken_.ok()) return broken_;
  if (!batch_open_) {
    if (absl::Status b = store_->BeginBatch(); !b.ok()) return Break(b);
    batch_open_ = true;
    batch_written_ = false;
    ++batch_;
  }
  ++stats_.steps;
  const int64_t changes = store_->db().TotalChanges();
  const int64_t entries = ledger_->Count();
  if (absl::Status b = store_->BeginStep(); !b.ok()) return Break(b);
  const absl::Status s = body();
  if (!s.ok()) ledger_->RolledBack(entries);  // the rollback undoes its inserts
  if (absl::Status e = store_->EndStep(/*keep=*/s.ok()); !e.ok()) return Break(e);
  if (!s.ok() && !absl::IsInvalidArgument(s)) return Break(s);
  if (s.ok() && store_->db().TotalChanges() != changes) batch_written_ = true;
  if (!batch_written_) {
    // Nothing to make durable (an Acquire that found no work): the batch ends without
    // a commit to sync, and AwaitDurable waits only for what came before.
    if (absl::Status c = store_->CommitBatch(); !c.ok()) return Break(c);
    batch_open_ = false;
    --batch_;
  }
  return s;
}

absl::StatusOr<int64_t> GroupCommit::AppendEvent(v1::Event event, int64_t now_ms) {
  event.set_unix_ms(now_ms);
  event.set_sequence(last_event_ + 1);
  if (absl::Status s = store_->AppendEvent(event); !s.ok()) return s;
  return ++last_event_;
}

bool GroupCommit::WaitForEvents(absl::Time deadline) {
  return events_cv_.WaitWithDeadline(mu_, deadline);
}

absl::Status GroupCommit::Commit() {
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status c = store_->CommitBatch(); !c.ok()) return Break(c);
  batch_open_ = false;
  written_batch_ = batch_;
  written_event_ = last_event_;
  ++stats_.commits;
  // Between two transactions, now and then: keeps the WAL from growing for ever (a
  // failure only means the WAL stays long until the next try).
  if (store_->db().WalWantsRestart() && store_->db().RestartWal().ok()) ++stats_.wal_restarts;
  commit_seconds_.Observe(SecondsSince(start));
  return absl::OkStatus();
}

absl::Status GroupCommit::AwaitDurable() {
  const int64_t want = batch_;
  while (synced_batch_ < want) {
    if (!broken_.ok()) return broken_;
    if (syncing_) {
      sync_cv_.Wait(mu_);
      continue;
    }
    if (batch_open_) {
      if (absl::Status c = Commit(); !c.ok()) return c;
    }
    const int64_t batch = written_batch_;
    const int64_t event = written_event_;
    store::Database* db = &store_->db();
    syncing_ = true;
    mu_->Unlock();
    const auto start = std::chrono::steady_clock::now();
    const absl::Status synced = db->SyncWal();
    sync_seconds_.Observe(SecondsSince(start));
    mu_->Lock();
    syncing_ = false;
    sync_cv_.SignalAll();
    if (!synced.ok()) return Break(synced);
    ++stats_.syncs;
    synced_batch_ = std::max(synced_batch_, batch);
    durable_event_ = std::max(durable_event_, event);
    events_cv_.SignalAll();
  }
  return broken_;
}

}  // namespace deepevolve::master
