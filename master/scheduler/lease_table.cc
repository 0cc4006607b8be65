#include "master/scheduler/lease_table.h"

#include <algorithm>

namespace deepevolve::master {
namespace {

std::vector<Lease> ById(std::vector<Lease> leases) {
  std::sort(leases.begin(), leases.end(),
            [](const Lease& a, const Lease& b) { return a.id < b.id; });
  return leases;
}

}  // namespace

void LeaseTable::StartIdsAt(int64_t next_id) {
  next_id_ = std::max<int64_t>(next_id, 1);
  reserved_ = next_id_;
}

void LeaseTable::Restore(const Lease& lease, int64_t now_ms) {
  Lease& l = live_[lease.id] = lease;
  Renew(l, now_ms);
  l.start_ms = now_ms;
  l.progress_deadline_ms = now_ms + options_.first_epoch_ms;
}

void LeaseTable::Progressed(Lease& lease, int epoch, int64_t now_ms) const {
  if (epoch < 1) return;
  if (lease.epoch_base < 0) {
    // Restored with its epoch unknown: time from this one on.
    lease.epoch_base = epoch;
    lease.start_ms = now_ms;
    lease.progress_deadline_ms = now_ms + options_.first_epoch_ms;
    return;
  }
  if (epoch <= lease.epoch_base) return;  // a late or retried heartbeat
  const double mean_epoch_ms =
      static_cast<double>(now_ms - lease.start_ms) / (epoch - lease.epoch_base);
  const int64_t most = options_.first_epoch_ms;
  const int64_t least = std::min(options_.min_epoch_ms, most);
  lease.progress_deadline_ms =
      now_ms +
      std::clamp<int64_t>(static_cast<int64_t>(options_.epoch_slack * mean_epoch_ms), least, most);
}

void LeaseTable::RestoreReported(int64_t lease_id, int64_t search_id, int64_t genome_id,
                                 int64_t now_ms) {
  reported_[lease_id] = {search_id, genome_id};
  reported_order_.emplace_back(now_ms, lease_id);
}

void LeaseTable::ForgetReported(int64_t now_ms) {
  while (!reported_order_.empty() &&
         reported_order_.front().first + options_.remember_reported_ms <= now_ms) {
    reported_.erase(reported_order_.front().second);
    reported_order_.pop_front();
  }
}

const Lease& LeaseTable::Grant(int64_t search_id, int64_t genome_id, const std::string& worker_id,
                               int64_t incarnation, int64_t now_ms, int64_t* reserve_up_to) {
  const int64_t id = next_id_++;
  *reserve_up_to = 0;
  if (next_id_ > reserved_) {
    reserved_ = next_id_ + options_.id_block;
    *reserve_up_to = reserved_;
  }
  return live_[id] = Lease{id,
                           search_id,
                           genome_id,
                           worker_id,
                           incarnation,
                           now_ms + options_.lease_ms,
                           now_ms + options_.first_epoch_ms,
                           now_ms};
}

LeaseTable::Kind LeaseTable::Classify(int64_t lease_id) const {
  if (live_.contains(lease_id)) return Kind::kLive;
  if (reported_.contains(lease_id)) return Kind::kReported;
  if (lease_id > 0 && lease_id < next_id_) return Kind::kFenced;
  return Kind::kUnknown;
}

Lease* LeaseTable::Find(int64_t lease_id) {
  auto it = live_.find(lease_id);
  return it == live_.end() ? nullptr : &it->second;
}

Lease LeaseTable::Reported(int64_t lease_id, int64_t now_ms) {
  auto it = live_.find(lease_id);
  Lease lease = it->second;
  live_.erase(it);
  RestoreReported(lease_id, lease.search_id, lease.genome_id, now_ms);
  return lease;
}

std::vector<Lease> LeaseTable::Expired(int64_t now_ms) const {
  std::vector<Lease> out;
  for (const auto& [id, lease] : live_) {
    if (lease.deadline_ms <= now_ms || OverBudget(lease, now_ms)) out.push_back(lease);
  }
  return ById(std::move(out));
}

bool LeaseTable::AnyExpired(int64_t now_ms) const {
  return std::any_of(live_.begin(), live_.end(), [now_ms](const auto& l) {
    return l.second.deadline_ms <= now_ms || OverBudget(l.second, now_ms);
  });
}

std::vector<Lease> LeaseTable::HeldBy(const std::string& worker_id) const {
  std::vector<Lease> out;
  for (const auto& [id, lease] : live_) {
    if (lease.worker_id == worker_id) out.push_back(lease);
  }
  return ById(std::move(out));
}

}  // namespace deepevolve::master
