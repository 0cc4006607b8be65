#include "master/scheduler/worker_registry.h"

#include <algorithm>

namespace deepevolve::master {

void WorkerRegistry::Register(const v1::RegisterRequest& request, int64_t now_ms) {
  WorkerInfo& w = workers_[request.worker_id()];
  w.worker_id = request.worker_id();
  w.incarnation = request.incarnation();
  w.devices.clear();
  for (const v1::Device& d : request.devices()) w.devices.push_back(d.name());
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

std::vector<std::string> WorkerRegistry::Idle(int64_t now_ms, int64_t idle_ms) const {
  std::vector<std::string> out;
  for (const auto& [id, w] : workers_) {
    if (w.last_seen_ms + idle_ms <= now_ms) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace deepevolve::master
