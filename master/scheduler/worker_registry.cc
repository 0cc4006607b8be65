#include "master/scheduler/worker_registry.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace deepevolve::master {
namespace {

// Whether version a comes before b: split at . - _, each part compared as a number
// when both are digits (by length first, so no part overflows), else as text.
bool OlderVersion(absl::string_view a, absl::string_view b) {
  const std::vector<absl::string_view> x = absl::StrSplit(a, absl::ByAnyChar(".-_"));
  const std::vector<absl::string_view> y = absl::StrSplit(b, absl::ByAnyChar(".-_"));
  auto digits = [](absl::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    absl::string_view p = x[i], q = y[i];
    if (digits(p) && digits(q)) {
      p = p.substr(std::min(p.find_first_not_of('0'), p.size() - 1));
      q = q.substr(std::min(q.find_first_not_of('0'), q.size() - 1));
      if (p.size() != q.size()) return p.size() < q.size();
    }
    if (p != q) return p < q;
  }
  return x.size() != y.size() ? x.size() < y.size() : a < b;
}

}  // namespace

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
  std::string out = absl::StrCat("no registered worker offers ", wanted,
                                 " (workers offer: ", absl::StrJoin(offered, ", "), ")");
  return out;
}

std::string WorkerRegistry::Pin(const std::string& trainer, int64_t now_ms,
                                int64_t active_ms) const {
  if (trainer.empty() || trainer.find('@') != std::string::npos) return trainer;
  const std::string prefix = absl::StrCat(trainer, "@");
  std::string newest;
  for (const auto& [id, w] : workers_) {
    if (w.last_seen_ms + active_ms <= now_ms) continue;
    for (const std::string& t : w.trainers) {
      if (t == trainer) return trainer;
      if (!absl::StartsWith(t, prefix)) continue;
      const absl::string_view version = absl::string_view(t).substr(prefix.size());
      if (newest.empty() ||
          OlderVersion(absl::string_view(newest).substr(prefix.size()), version)) {
        newest = t;
      }
    }
  }
  return newest.empty() ? trainer : newest;
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
