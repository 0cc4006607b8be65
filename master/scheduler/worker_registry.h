// The workers the master knows: who registered, in which incarnation, on which
// devices, and when each was last heard from.
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_WORKER_REGISTRY_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_WORKER_REGISTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "deepevolve/v1/service.pb.h"

namespace deepevolve::master {

// What a worker registered with, and what it is doing.
struct WorkerInfo {
  std::string worker_id;
  int64_t incarnation = 0;
  std::vector<std::string> devices;
  // The trainer programs it offers (TaskSpec.trainer), and whether the built-in one too.
  std::vector<std::string> trainers;
  bool builtin_trainer = true;
  int64_t last_seen_ms = 0;

  // Whether it trains genomes of a search on `trainer` ("" for the built-in trainer).
  bool Offers(const std::string& trainer) const;
};

// Pure (time comes in as `now_ms`) and in memory only: a restarted master learns its
// workers again as they register. Thread-compatible: the master serialises access.
class WorkerRegistry {
 public:
  // Records the registration (replacing a previous incarnation's).
  void Register(const v1::RegisterRequest& request, int64_t now_ms);

  // True when `worker_id` is registered in this incarnation; then it counts as seen
  // at now_ms. False: the caller must register (again) first.
  bool Touch(const std::string& worker_id, int64_t incarnation, int64_t now_ms);

  std::vector<WorkerInfo> List() const;
  // The worker, nullptr when it is not registered.
  const WorkerInfo* Find(const std::string& worker_id) const;
  // Why no registered worker can train a search on `trainer` ("no registered worker
  // offers trainer 'x' (workers offer: ...)"), or "" when one can.
  std::string Waiting(const std::string& trainer) const;
  // The trainer a search submitted on `trainer` runs on: a name without a version that
  // no registered worker offers as such becomes the newest NAME@VERSION offered by a
  // worker seen since now_ms - active_ms (versions compared part by part, numbers as
  // numbers: 10 after 9); a stale registration (a worker gone, or a stolen certificate
  // used once) does not choose a version. Any other name is kept as it is.
  std::string Pin(const std::string& trainer, int64_t now_ms, int64_t active_ms) const;
  // Workers not seen since now_ms - idle_ms, in id order.
  std::vector<std::string> Idle(int64_t now_ms, int64_t idle_ms) const;
  void Forget(const std::string& worker_id) { workers_.erase(worker_id); }
  int64_t size() const { return static_cast<int64_t>(workers_.size()); }

 private:
  absl::flat_hash_map<std::string, WorkerInfo> workers_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_WORKER_REGISTRY_H_
