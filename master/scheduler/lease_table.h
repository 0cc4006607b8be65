// Leases: which worker holds which genome until when, and what became of every lease
// handed out (for fencing late reports and answering repeated ones).
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_LEASE_TABLE_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_LEASE_TABLE_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace deepevolve::master {

struct Lease {
  int64_t id = 0;
  int64_t search_id = 0;
  int64_t genome_id = 0;
  // The holder: the worker id and incarnation that acquired it.
  std::string worker_id;
  int64_t incarnation = 0;
  // Renewed by every heartbeat: the worker is alive.
  int64_t deadline_ms = 0;
  // Moved only by epochs: the training makes progress (a hung trainer whose heartbeat
  // thread still renews the lease runs past this).
  int64_t progress_deadline_ms = 0;
  // Epochs are timed from start_ms, when the trial had finished epoch_base epochs (0
  // for a new lease; for one restored after a restart, its last known epoch, or -1
  // when none is known: the next epoch heartbeat then sets both).
  int64_t start_ms = 0;
  int epoch_base = 0;

  bool HeldBy(const std::string& worker, int64_t worker_incarnation) const {
    return worker == worker_id && worker_incarnation == incarnation;
  }
};

// The master's leases. Pure: time comes in as `now_ms`, and nothing here is durable;
// the caller stores what Grant asks it to (the lease-id reservation) and the trials.
//
// Lease ids grow from 1 and are never reused. They are reserved in blocks: a restarted
// master starts above every id it handed out, without a write per lease.
//
// Thread-compatible: the master serialises access.
class LeaseTable {
 public:
  // What a lease id names, for a report or a heartbeat that quotes it.
  enum class Kind {
    kLive,      // held by a worker now
    kReported,  // its result was recorded (a repeated report)
    kFenced,    // handed out once, then expired or lost: its genome went back to the queue
    kUnknown,   // never handed out
  };

  struct Options {
    // A lease lasts this long without a heartbeat.
    int64_t lease_ms = 30'000;
    // A trial's time budget: its first epoch may take this long, and each later one
    // `epoch_slack` times the mean epoch so far (at least min_epoch_ms, at most
    // first_epoch_ms). A trial past its budget expires like a lost lease.
    int64_t first_epoch_ms = 3'600'000;
    double epoch_slack = 4;
    int64_t min_epoch_ms = 60'000;
    // Lease ids reserved per write of the reservation.
    int64_t id_block = 1024;
    // A reported lease is remembered this long, for a worker that repeats its report
    // (it did not get the answer); after that a repeat is answered as fenced, which
    // loses nothing, the result being recorded.
    int64_t remember_reported_ms = 3'600'000;
  };

  explicit LeaseTable(Options options) : options_(options) {}

  // Continues after a restart: ids from `next_id` (the stored reservation) on.
  void StartIdsAt(int64_t next_id);
  // Reopens a lease that was open when the master stopped, with a full lease from
  // `now_ms`: its worker may still be training. `lease.epoch_base` is the last epoch
  // the trial is known to have finished (-1: unknown); its epochs are timed from now,
  // with the first epoch's allowance until one has passed.
  void Restore(const Lease& lease, int64_t now_ms);
  // Remembers that lease `lease_id` reported (search, genome), for repeated reports,
  // as of now_ms.
  void RestoreReported(int64_t lease_id, int64_t search_id, int64_t genome_id, int64_t now_ms);

  // Hands out a new lease on the genome until now_ms + lease_ms. `*reserve_up_to` is
  // set to a new reservation the caller must store before acknowledging, else to 0.
  const Lease& Grant(int64_t search_id, int64_t genome_id, const std::string& worker_id,
                     int64_t incarnation, int64_t now_ms, int64_t* reserve_up_to);

  Kind Classify(int64_t lease_id) const;
  // The live lease `lease_id`, or null.
  Lease* Find(int64_t lease_id);
  // Moves the deadline of a live lease to now_ms + lease_ms.
  void Renew(Lease& lease, int64_t now_ms) { lease.deadline_ms = now_ms + options_.lease_ms; }
  // The lease's trial has finished `epoch` epochs by now_ms: its progress deadline
  // moves on by the budget of one more (timed by the master's clock, not the worker's).
  void Progressed(Lease& lease, int epoch, int64_t now_ms) const;

  // Ends a live lease with its report recorded at now_ms. Returns the lease (the
  // caller's copy).
  Lease Reported(int64_t lease_id, int64_t now_ms);
  // Forgets reported leases older than remember_reported_ms.
  void ForgetReported(int64_t now_ms);
  // Ends a live lease without a result (expired, or its worker restarted): a later
  // report quoting it is fenced.
  void Drop(int64_t lease_id) { live_.erase(lease_id); }

  // Live leases past their deadline or their progress deadline at now_ms, in id order.
  std::vector<Lease> Expired(int64_t now_ms) const;
  static bool OverBudget(const Lease& lease, int64_t now_ms) {
    return lease.progress_deadline_ms <= now_ms;
  }
  bool AnyExpired(int64_t now_ms) const;
  // Live leases held by `worker_id`, in id order.
  std::vector<Lease> HeldBy(const std::string& worker_id) const;

  int64_t live() const { return static_cast<int64_t>(live_.size()); }
  int64_t remembered() const { return static_cast<int64_t>(reported_.size()); }
  int64_t lease_ms() const { return options_.lease_ms; }

 private:
  const Options options_;
  int64_t next_id_ = 1;
  int64_t reserved_ = 1;  // ids below are stored as used
  absl::flat_hash_map<int64_t, Lease> live_;
  // Leases whose report was accepted: lease id -> (search, genome), and (time, lease
  // id) in the order they were reported, for forgetting them.
  absl::flat_hash_map<int64_t, std::pair<int64_t, int64_t>> reported_;
  std::deque<std::pair<int64_t, int64_t>> reported_order_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_LEASE_TABLE_H_
