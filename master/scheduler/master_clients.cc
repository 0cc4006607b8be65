// What clients ask of the master (SearchService: submit, cancel, summaries, trials, the
// leaderboard, the best model, durable events) and what the HTTP port reads (counters
// for /metrics, health, workers).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "master/ga/spec.h"
#include "master/scheduler/master.h"

namespace deepevolve::master {

using v1::Event;
using v1::Trial;

absl::StatusOr<v1::SearchSummary> Master::Submit(const v1::SearchSpec& submitted) {
  ASSIGN_OR_RETURN(v1::SearchSpec spec, ga::ResolveSearchSpec(submitted));
  absl::MutexLock lock(mu());
  const auto running =
      std::count_if(runs_.begin(), runs_.end(), [](const auto& r) { return r.second->running(); });
  if (running >= options_.max_running_searches) {
    return absl::ResourceExhaustedError(
        absl::StrCat(running,
                     " searches are running, the most this master runs at once; cancel one or "
                     "wait for one to finish"));
  }
  if (spec.seed() == 0) spec.set_seed(static_cast<uint64_t>(clock_->NowMs()) * 2654435761u | 1);
  v1::SearchSummary summary;
  summary.set_name(spec.name().empty() ? spec.preset() : spec.name());
  *summary.mutable_spec() = spec;
  summary.set_state(v1::RUNNING);
  summary.set_created_unix_ms(clock_->NowMs());
  ASSIGN_OR_RETURN(std::unique_ptr<SearchRun> run, SearchRun::Create(summary));
  SearchRun* r = run.get();
  RETURN_IF_ERROR(commit_.Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
    ASSIGN_OR_RETURN(const int64_t id, store_->InsertSearch(r->stored_summary()));
    r->set_id(id);
    runs_[id] = std::move(run);
    // A generation is handed out whole; other strategies breed when a worker asks.
    return FillQueue(*r, r->generational() ? SIZE_MAX : 1);
  }));
  RETURN_IF_ERROR(commit_.AwaitDurable());
  work_cv_.SignalAll();
  return r->Summarize();
}

absl::StatusOr<v1::SearchSummary> Master::Cancel(int64_t search_id) {
  absl::MutexLock lock(mu());
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  if (!run->running()) return run->Summarize();
  RETURN_IF_ERROR(commit_.Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) {
    return EndSearch(*run, v1::CANCELLED, "cancelled");
  }));
  RETURN_IF_ERROR(commit_.AwaitDurable());
  return run->Summarize();
}

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
  const int64_t id = genome_id != 0 ? genome_id : run->best_genome_id();
  if (id == 0) return absl::NotFoundError(absl::StrCat("search ", search_id, " has no result yet"));
  auto trial = run->trials().find(id);
  if (trial == run->trials().end()) {
    return absl::NotFoundError(absl::StrCat("search ", search_id, " has no genome ", id));
  }
  // By ledger entry: a genome answered from the ledger exports the model of the
  // training that made the entry, whichever search ran it.
  ASSIGN_OR_RETURN(std::optional<std::string> data,
                   store_->LoadLedgerModel({trial->second.genome().hash(), run->task_hash()}));
  if (!data.has_value()) {
    ASSIGN_OR_RETURN(auto legacy, store_->LoadModel(search_id));
    if (legacy.has_value() && legacy->first == id) data = std::move(legacy->second);
  }
  if (!data.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no stored model for genome ", id, " of search ", search_id,
        " (a model is kept for each genome that was its search's best when it was trained)"));
  }
  v1::Model out;
  *out.mutable_trial() = trial->second;
  out.set_data(*std::move(data));
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
