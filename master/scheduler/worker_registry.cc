#include "master/scheduler/worker_registry.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace deepevolve::master {

void WorkerRegistry::Register(const v1::RegisterRequest& request, int64_t now_ms) {
  WorkerInfo& w = workers_[request.worker_id()];
  w.worker_id = request.worker_id();
  w.incarnation = request.incarnation();
  w.devices.clear();
  for (const v1::Device& d : request.devices()) w.devices.push_back(d.name());
  w.trainers.assign(request.trainers().begin(), request.trainers().end());
  w.builtin_trainer = !request.no_builtin_trainer();
  w.last_seen_ms = now_ms;
}

bool WorkerRegistry::Touch(const std::string& worker_id, int64_t incarnation, int64_t now_ms) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second.incarnation != incarnation) return false;
  it->second.last_seen_ms = now_ms;
  return true;
}

std::vector<WorkerInfo> WorkerRegistry::List() const {
  std::vector<WorkerInfo> out;
  for (const auto& [id, w] : workers_) out.push_back(w);
  std::sort(out.begin(), out.end(),
            [](const WorkerInfo& a, const WorkerInfo& b) { return a.worker_id < b.worker_id; });
  return out;
}

bool WorkerInfo::Offers(const std::string& trainer) const {
  if (trainer.empty()) return builtin_trainer;
  return std::find(trainers.begin(), trainers.end(), trainer) != trainers.end();
}

const WorkerInfo* WorkerRegistry::Find(const std::string& worker_id) const {
  auto it = workers_.find(worker_id);
  return it == workers_.end() ? nullptr : &it->second;
}

std::string WorkerRegistry::Waiting(const std::string& trainer) const {
  std::set<std::string> offered;
  for (const auto& [id, w] : workers_) {
    if (w.Offers(trainer)) return "";
    if (w.builtin_trainer) offered.insert("the built-in trainer");
    offered.insert(w.trainers.begin(), w.trainers.end());
  }
  const std::string wanted =
      trainer.empty() ? "the built-in trainer" : absl::StrCat("trainer '", trainer, "'");
  if (workers_.empty())
    return absl::StrCat("no worker has registered (the search needs ", wanted, ")");
  return absl::StrCat("no registered worker offers ", wanted,
                      " (workers offer: ", absl::StrJoin(offered, ", "), ")");
}

std::vector<std::string> WorkerRegistry::Idle(int64_t now_ms, int64_t idle_ms) const {
  std::vector<std::string> out;
  for (const auto& [id, w] : workers_) {
    if (w.last_seen_ms + idle_ms <= now_ms) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace deepevolve::master
