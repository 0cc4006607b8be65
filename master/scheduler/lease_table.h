// Leases: which worker holds which genome until when, and what became of every lease
// handed out (for fencing late reports and answering repeated ones).
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_LEASE_TABLE_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_LEASE_TABLE_H_

#include <cstdint>
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
  int64_t deadline_ms = 0;

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

  explicit LeaseTable(int64_t lease_ms, int64_t id_block = 1024)
      : lease_ms_(lease_ms), id_block_(id_block) {}

  // Continues after a restart: ids from `next_id` (the stored reservation) on.
  void StartIdsAt(int64_t next_id);
  // Reopens a lease that was open when the master stopped, with a full lease from
  // `now_ms`: its worker may still be training.
  void Restore(const Lease& lease, int64_t now_ms);
  // Remembers that lease `lease_id` reported (search, genome), for repeated reports.
  void RestoreReported(int64_t lease_id, int64_t search_id, int64_t genome_id);

  // Hands out a new lease on the genome until now_ms + lease_ms. `*reserve_up_to` is
  // set to a new reservation the caller must store before acknowledging, else to 0.
  const Lease& Grant(int64_t search_id, int64_t genome_id, const std::string& worker_id,
                     int64_t incarnation, int64_t now_ms, int64_t* reserve_up_to);

  Kind Classify(int64_t lease_id) const;
  // The live lease `lease_id`, or null.
  Lease* Find(int64_t lease_id);
  // Moves the deadline of a live lease to now_ms + lease_ms.
  void Renew(Lease& lease, int64_t now_ms) { lease.deadline_ms = now_ms + lease_ms_; }

  // Ends a live lease with its report recorded. Returns the lease (the caller's copy).
  Lease Reported(int64_t lease_id);
  // Ends a live lease without a result (expired, or its worker restarted): a later
  // report quoting it is fenced.
  void Drop(int64_t lease_id) { live_.erase(lease_id); }

  // Live leases past their deadline at now_ms, in id order.
  std::vector<Lease> Expired(int64_t now_ms) const;
  bool AnyExpired(int64_t now_ms) const;
  // Live leases held by `worker_id`, in id order.
  std::vector<Lease> HeldBy(const std::string& worker_id) const;

  int64_t live() const { return static_cast<int64_t>(live_.size()); }
  int64_t lease_ms() const { return lease_ms_; }

 private:
  const int64_t lease_ms_;
  const int64_t id_block_;
  int64_t next_id_ = 1;
  int64_t reserved_ = 1;  // ids below are stored as used
  absl::flat_hash_map<int64_t, Lease> live_;
  // Leases whose report was accepted: lease id -> (search, genome).
  absl::flat_hash_map<int64_t, std::pair<int64_t, int64_t>> reported_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_LEASE_TABLE_H_
