// What clients ask of the master (SearchService: submit, cancel, summaries, trials, the
// leaderboard, the best model, durable events) and what the HTTP port reads (counters
// for /metrics, health, workers).
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/md5.h"
#include "common/status_macros.h"
#include "genome/genome.h"
#include "master/ga/spec.h"
#include "master/scheduler/master.h"
#include "master/scheduler/requests.h"

namespace deepevolve::master {

using v1::Event;
using v1::Trial;

absl::StatusOr<v1::WarmStart> Master::WarmStartFrom(const v1::WarmStart& asked) {
  v1::WarmStart out = asked;
  if (asked.search_id() <= 0 || asked.genomes_size() > 0) return out;
  absl::StatusOr<std::vector<Trial>> ranked =
      RankedTrials(asked.search_id(), asked.best() > 0 ? asked.best() : 8);
  if (!ranked.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("warm_start.search_id: ", ranked.status().message()));
  }
  v1::GeneSpace space;
  {
    absl::MutexLock lock(mu());
    ASSIGN_OR_RETURN(const v1::SearchSummary earlier, Summary(asked.search_id()));
    space = earlier.spec().space();
  }
  for (const Trial& t : *ranked) {
    v1::NamedGenes* named = out.add_genomes();
    for (int i = 0; i < t.genome().values_size() && i < space.genes_size(); ++i) {
      if (t.genome().values(i).value_case() == v1::GeneValue::VALUE_NOT_SET) continue;
      (*named->mutable_genes())[space.genes(i).name()] = t.genome().values(i);
    }
  }
  if (out.genomes_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("warm_start.search_id: search ", asked.search_id(), " has no result yet"));
  }
  return out;
}

absl::StatusOr<v1::SearchSummary> Master::Submit(const v1::SearchSpec& asked) {
  v1::SearchSpec submitted = asked;
  if (asked.has_warm_start()) {
    ASSIGN_OR_RETURN(*submitted.mutable_warm_start(), WarmStartFrom(asked.warm_start()));
  }
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
  // A trainer named without a version runs on the newest one offered now (or, when
  // none is, by the first worker that offers one: PinWaitingSearches), for the whole
  // search: its ledger entries are that version's.
  if (spec.has_task()) {
    spec.mutable_task()->set_trainer(
        workers_.Pin(spec.task().trainer(), clock_->NowMs(), ActiveWorkerMs()));
  }
  if (spec.seed() == 0) spec.set_seed(static_cast<uint64_t>(clock_->NowMs()) * 2654435761u | 1);
  v1::SearchSummary summary;
  summary.set_name(spec.name().empty() ? spec.preset() : spec.name());
  *summary.mutable_spec() = spec;
  summary.set_state(v1::RUNNING);
  summary.set_created_unix_ms(clock_->NowMs());
  ASSIGN_OR_RETURN(std::unique_ptr<SearchRun> run, SearchRun::Create(summary));
  SearchRun* r = run.get();
  v1::SearchSummary out;
  RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
    ASSIGN_OR_RETURN(const int64_t id, store_->InsertSearch(r->stored_summary()));
    r->set_id(id);
    runs_[id] = std::move(run);
    // A generation is handed out whole; other strategies breed when a worker asks.
    RETURN_IF_ERROR(FillQueue(*r, r->generational() ? SIZE_MAX : 1));
    out = Summarize(*r);  // before the step's end may retire it (all ledger hits)
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(commit_.AwaitDurable());
  work_cv_.SignalAll();
  return out;
}

namespace {

// An imported trial's result, checked as a worker's report is. INVALID_ARGUMENT names it.
absl::StatusOr<genome::TrialResult> ImportedResult(const v1::ImportedTrial& t, int index,
                                                   const v1::TaskSpec& task,
                                                   const std::string& source) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("trials[", index, "]: ", what));
  };
  // The checks of a worker's report, on the same fields.
  v1::ReportRequest report;
  report.set_accuracy(t.accuracy());
  report.set_test_accuracy(t.test_accuracy());
  report.set_train_seconds(t.train_seconds());
  report.set_epochs_run(t.epochs_run());
  *report.mutable_metrics() = t.metrics();
  if (absl::Status s = ValidateReport(report); !s.ok()) return bad(s.message());
  if (t.epochs_run() > task.epochs()) {
    return bad(absl::StrCat("epochs_run: ", t.epochs_run(), " is over the task's ", task.epochs()));
  }
  genome::TrialResult r;
  r.metrics = genome::MetricsFrom(t.metrics());
  r.accuracy = t.accuracy();
  r.test_accuracy = t.test_accuracy();
  r.epochs_run = t.epochs_run() > 0 ? t.epochs_run() : task.epochs();
  r.train_seconds = t.train_seconds();
  r.source = source;
  return r;
}

}  // namespace

absl::StatusOr<v1::ImportTrialsResponse> Master::ImportTrials(
    const v1::ImportTrialsRequest& request) {
  if (request.trials_size() > kMaxImported) {
    return absl::InvalidArgumentError(
        absl::StrCat("trials: ", request.trials_size(), " in one request; at most ", kMaxImported));
  }
  const std::string& source = request.source();
  if (source.size() > 256 || !std::all_of(source.begin(), source.end(), [](char c) {
        return absl::ascii_isprint(static_cast<unsigned char>(c));
      })) {
    return absl::InvalidArgumentError("source: printable text of at most 256 characters");
  }
  ASSIGN_OR_RETURN(v1::SearchSpec spec, ga::ResolveSearchSpec(request.spec()));
  ASSIGN_OR_RETURN(const genome::SearchSpace space,
                   genome::SearchSpace::FromProto(spec.space(), ga::GeneNamesFor(spec.task())));
  std::vector<std::pair<genome::LedgerKey, genome::TrialResult>> entries;
  entries.reserve(request.trials_size());
  absl::MutexLock lock(mu());
  // The task as a search submitted now would key it: a trainer named without a version
  // is the newest one offered.
  spec.mutable_task()->set_trainer(
      workers_.Pin(spec.task().trainer(), clock_->NowMs(), ActiveWorkerMs()));
  const std::string task_hash = Md5Hex(genome::TaskIdentity(spec.task()));
  for (int i = 0; i < request.trials_size(); ++i) {
    const v1::ImportedTrial& t = request.trials(i);
    genome::NamedGenome named;
    for (const auto& [name, value] : t.genome().genes()) {
      named.emplace_back(name, genome::GeneValueFromProto(value));
    }
    absl::StatusOr<genome::Genome> g = genome::FromNamedGenome(space, named);
    if (!g.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("trials[", i, "]: ", g.status().message()));
    }
    ASSIGN_OR_RETURN(genome::TrialResult result,
                     ImportedResult(t, i, spec.task(), source.empty() ? "imported" : source));
    entries.push_back({{genome::GenomeHash(space, *g), task_hash}, std::move(result)});
  }
  v1::ImportTrialsResponse out;
  RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
    for (const auto& [key, result] : entries) {
      ASSIGN_OR_RETURN(const std::optional<genome::TrialResult> held, ledger_->Lookup(key));
      if (held.has_value()) {
        out.set_already_recorded(out.already_recorded() + 1);
        continue;
      }
      RETURN_IF_ERROR(ledger_->Insert(key, result));
      out.set_imported(out.imported() + 1);
    }
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(commit_.AwaitDurable());
  return out;
}

absl::StatusOr<v1::SearchSummary> Master::Cancel(int64_t search_id) {
  absl::MutexLock lock(mu());
  auto found = runs_.find(search_id);
  if (found == runs_.end() || !found->second->running()) return Summary(search_id);
  SearchRun& run = *found->second;
  v1::SearchSummary out;
  RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
    RETURN_IF_ERROR(EndSearch(run, v1::CANCELLED, "cancelled"));
    out = run.Summarize();
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(commit_.AwaitDurable());
  return out;
}

absl::StatusOr<v1::SearchSummary> Master::Get(int64_t search_id) {
  absl::MutexLock lock(mu());
  return Summary(search_id);
}

absl::StatusOr<v1::ListResponse> Master::List(const v1::ListRequest& request) {
  const int limit = request.page_size() <= 0 ? 100 : std::min(request.page_size(), 1000);
  const int64_t before_id =
      request.before_search_id() <= 0 ? INT64_MAX : request.before_search_id();
  absl::MutexLock lock(mu());
  // One more than asked tells whether another page follows.
  ASSIGN_OR_RETURN(std::vector<v1::SearchSummary> found,
                   store_->ListFinished(before_id, limit + 1));
  for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
    if (it->first >= before_id) continue;
    if (static_cast<int>(found.size()) > limit && it->first < found.back().search_id()) break;
    found.push_back(Summarize(*it->second));
  }
  std::sort(found.begin(), found.end(), [](const v1::SearchSummary& a, const v1::SearchSummary& b) {
    return a.search_id() > b.search_id();
  });
  v1::ListResponse out;
  if (static_cast<int>(found.size()) > limit) {
    found.resize(limit);
    out.set_next_before_search_id(found.back().search_id());
  }
  for (v1::SearchSummary& s : found) *out.add_searches() = std::move(s);
  return out;
}

std::vector<v1::SearchSummary> Master::Running() {
  absl::MutexLock lock(mu());
  std::vector<v1::SearchSummary> out;
  for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) out.push_back(Summarize(*it->second));
  return out;
}

std::vector<v1::SearchSummary> Master::Current() {
  std::vector<v1::SearchSummary> out = Running();
  absl::MutexLock lock(mu());
  const int64_t since = clock_->NowMs() - options_.forget_after_ms;
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
    if (it->finished_unix_ms() >= since) out.push_back(*it);
  }
  return out;
}

absl::StatusOr<v1::ListTrialsResponse> Master::ListTrials(const v1::ListTrialsRequest& request) {
  const int64_t search_id = request.search_id();
  const int limit = request.page_size() <= 0 ? 1000 : std::min(request.page_size(), kMaxPage);
  absl::MutexLock lock(mu());
  v1::ListTrialsResponse out;
  if (auto found = runs_.find(search_id); found != runs_.end()) {
    const std::map<int64_t, Trial>& trials = found->second->trials();
    auto it = trials.upper_bound(request.after_genome_id());
    for (; it != trials.end() && out.trials_size() < limit; ++it) *out.add_trials() = it->second;
    if (it != trials.end()) out.set_next_after_genome_id(out.trials().rbegin()->genome().id());
    return out;
  }
  if (!finished_.contains(search_id)) {
    return absl::NotFoundError(absl::StrCat("no search with id ", search_id));
  }
  // One more than asked tells whether another page follows.
  ASSIGN_OR_RETURN(std::vector<Trial> page,
                   store_->LoadTrialsPage(search_id, request.after_genome_id(), limit + 1));
  if (static_cast<int>(page.size()) > limit) {
    page.resize(limit);
    out.set_next_after_genome_id(page.back().genome().id());
  }
  for (Trial& t : page) *out.add_trials() = std::move(t);
  return out;
}

absl::StatusOr<v1::LeaderboardResponse> Master::Leaderboard(const v1::LeaderboardRequest& request) {
  ASSIGN_OR_RETURN(std::vector<Trial> best, RankedTrials(request.search_id(), request.limit()));
  v1::LeaderboardResponse out;
  for (Trial& t : best) *out.add_trials() = std::move(t);
  return out;
}

absl::StatusOr<std::vector<Trial>> Master::RankedTrials(int64_t search_id, int limit) {
  limit = limit <= 0 ? 10 : std::min(limit, kMaxPage);
  absl::MutexLock lock(mu());
  std::vector<Trial> out;
  if (auto found = runs_.find(search_id); found != runs_.end()) {
    for (const Trial* t : found->second->Best(limit)) out.push_back(*t);
    return out;
  }
  if (!finished_.contains(search_id)) {
    return absl::NotFoundError(absl::StrCat("no search with id ", search_id));
  }
  if (limit <= kStoredLeaderboard) return store_->LoadLeaderboard(search_id, limit);
  // Longer than the stored leaderboard: a page of the stored ranking.
  ASSIGN_OR_RETURN(out, store_->LoadRanked(search_id, limit));
  if (!out.empty()) return out;
  ASSIGN_OR_RETURN(out, store_->LoadLeaderboard(search_id, kStoredLeaderboard));
  if (static_cast<int>(out.size()) < kStoredLeaderboard) return out;  // all it ranked
  // Retired before its ranking was stored: ranked from every stored trial.
  ASSIGN_OR_RETURN(std::vector<Trial> trials, store_->LoadTrials(search_id));
  std::sort(trials.begin(), trials.end(), genome::RanksBefore);
  out.clear();
  for (Trial& t : trials) {
    if (static_cast<int>(out.size()) == limit || !genome::IsSuccess(t)) break;
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<v1::Model> Master::GetModel(int64_t search_id, int64_t genome_id) {
  v1::Model out;
  genome::LedgerKey key;
  {
    absl::MutexLock lock(mu());
    ASSIGN_OR_RETURN(const v1::SearchSummary summary, Summary(search_id));
    const int64_t id = genome_id != 0 ? genome_id : summary.best().genome().id();
    if (id == 0) {
      return absl::NotFoundError(absl::StrCat("search ", search_id, " has no result yet"));
    }
    std::optional<Trial> trial;
    if (auto found = runs_.find(search_id); found != runs_.end()) {
      auto it = found->second->trials().find(id);
      if (it != found->second->trials().end()) trial = it->second;
    } else {
      ASSIGN_OR_RETURN(trial, store_->LoadTrial(search_id, id));
    }
    if (!trial.has_value()) {
      return absl::NotFoundError(absl::StrCat("search ", search_id, " has no genome ", id));
    }
    // By ledger entry: a genome answered from the ledger exports the model of the
    // training that made the entry, whichever search ran it.
    key = {trial->genome().hash(), Md5Hex(genome::TaskIdentity(summary.spec().task()))};
    *out.mutable_trial() = *std::move(trial);
  }
  ASSIGN_OR_RETURN(std::optional<std::string> data, models_->Read(key));
  if (!data.has_value()) {
    // Where masters before model files kept them: in the database.
    absl::MutexLock lock(mu());
    ASSIGN_OR_RETURN(data, store_->LoadLedgerModel(key));
    if (!data.has_value()) {
      ASSIGN_OR_RETURN(auto legacy, store_->LoadModel(search_id));
      if (legacy.has_value() && legacy->first == out.trial().genome().id()) {
        data = std::move(legacy->second);
      }
    }
  }
  if (!data.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no stored model for genome ", out.trial().genome().id(), " of search ", search_id,
        " (a model is kept for each genome that was its search's best when it was trained, or "
        "with several objectives on its front)"));
  }
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
    int64_t last_event = 0;  // of a search that ended
    if (auto found = runs_.find(search_id); found != runs_.end()) {
      last_event = found->second->running() ? -1 : found->second->last_event;
    } else if (auto f = finished_.find(search_id); f != finished_.end()) {
      last_event = f->second;
    } else {
      return absl::NotFoundError(absl::StrCat("no search with id ", search_id));
    }
    const int64_t durable = commit_.durable_event();
    ASSIGN_OR_RETURN(std::vector<Event> events,
                     store_->LoadEvents(search_id, after_sequence, durable, 1000));
    if (!events.empty()) return events;
    // Finished once its last event is durable (other searches' events may still not be).
    if (last_event >= 0 && last_event <= durable) {
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
  s.checkpoints = static_cast<int64_t>(checkpoint_sizes_.size());
  for (const auto& [name, bytes] : checkpoint_sizes_) s.checkpoint_bytes += bytes;
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
