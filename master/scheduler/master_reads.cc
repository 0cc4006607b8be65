// What clients and the HTTP port read from the master: summaries, trials, the
// leaderboard, the best model, durable events, and the counters for /metrics.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "master/scheduler/master.h"

namespace deepevolve::master {

using v1::Event;
using v1::Trial;

absl::StatusOr<v1::SearchSummary> Master::Get(int64_t search_id) {
  absl::MutexLock lock(mu());
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  return run->Summarize();
}

std::vector<v1::SearchSummary> Master::List() {
  absl::MutexLock lock(mu());
  std::vector<v1::SearchSummary> out;
  for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) out.push_back(it->second->Summarize());
  return out;
}

absl::StatusOr<std::vector<Trial>> Master::Trials(int64_t search_id) {
  absl::MutexLock lock(mu());
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  std::vector<Trial> out;
  for (const auto& [id, t] : run->trials()) out.push_back(t);
  return out;
}

absl::StatusOr<std::vector<Trial>> Master::Leaderboard(int64_t search_id, int limit) {
  ASSIGN_OR_RETURN(std::vector<Trial> trials, Trials(search_id));
  std::vector<Trial> out;
  for (Trial& t : trials) {
    if ((t.state() == v1::DONE || t.state() == v1::CACHED) && t.error().empty()) {
      out.push_back(std::move(t));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Trial& a, const Trial& b) { return a.accuracy() > b.accuracy(); });
  if (limit <= 0) limit = 10;
  if (static_cast<int>(out.size()) > limit) out.resize(limit);
  return out;
}

absl::StatusOr<v1::Model> Master::GetModel(int64_t search_id, int64_t genome_id) {
  absl::MutexLock lock(mu());
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  ASSIGN_OR_RETURN(auto model, store_->LoadModel(search_id));
  if (!model.has_value() || (genome_id != 0 && model->first != genome_id) ||
      run->trials().count(model->first) == 0) {
    return absl::NotFoundError(genome_id == 0
                                   ? absl::StrCat("search ", search_id, " has no stored model yet")
                                   : absl::StrCat("search ", search_id,
                                                  " keeps the model of its best genome only, "
                                                  "not of genome ",
                                                  genome_id));
  }
  v1::Model out;
  *out.mutable_trial() = run->trial(model->first);
  out.set_data(std::move(model->second));
  return out;
}

absl::StatusOr<std::vector<Event>> Master::WaitEvents(int64_t search_id, int64_t after_sequence,
                                                      absl::Duration timeout, bool* finished) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(mu());
  *finished = false;
  for (;;) {
    if (!commit_.broken().ok()) return commit_.broken();
    ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
    const int64_t durable = commit_.durable_event();
    ASSIGN_OR_RETURN(std::vector<Event> events,
                     store_->LoadEvents(search_id, after_sequence, durable, 1000));
    if (!events.empty()) return events;
    // Finished once its last event is durable (other searches' events may still not be).
    if (!run->running() && run->last_event <= durable) {
      *finished = true;
      return events;
    }
    if (shutdown_) return absl::UnavailableError("the master is shutting down");
    if (commit_.WaitForEvents(deadline)) return events;
  }
}

MasterStats Master::Stats() {
  absl::MutexLock lock(mu());
  MasterStats s = stats_;
  s.leases_active = leases_.live();
  for (const auto& [id, run] : runs_) s.queued += static_cast<int64_t>(run->queued());
  s.ledger_entries = ledger_->Count();
  s.workers = workers_.size();
  const GroupCommit::Stats c = commit_.stats();
  s.store_steps = c.steps;
  s.store_commits = c.commits;
  s.store_syncs = c.syncs;
  s.store_wal_restarts = c.wal_restarts;
  s.store_checkpoints = store_->db().checkpoints();
  return s;
}

absl::Status Master::Health() {
  absl::MutexLock lock(mu());
  if (!commit_.broken().ok()) return commit_.broken();
  if (shutdown_) return absl::UnavailableError("the master is shutting down");
  return absl::OkStatus();
}

std::vector<WorkerInfo> Master::Workers() {
  absl::MutexLock lock(mu());
  return workers_.List();
}

}  // namespace deepevolve::master
