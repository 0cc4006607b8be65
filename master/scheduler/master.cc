#include "master/scheduler/master.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/md5.h"
#include "common/status_macros.h"
#include "master/ga/genome.h"
#include "master/ga/presets.h"
#include "master/ga/spec.h"

namespace deepevolve::master {

using v1::Event;
using v1::SearchState;
using v1::Trial;
using v1::TrialState;

struct Master::SearchRun {
  v1::SearchSummary summary;  // the persisted part: id, name, spec, state, times, error
  std::optional<ga::SearchSpace> space;
  std::unique_ptr<ga::Strategy> strategy;
  std::mt19937_64 rng;
  std::string task_hash;
  int64_t op_seq = 0;
  int generation_emitted = 0;
  std::map<int64_t, Trial> trials;  // by genome id
  std::deque<int64_t> queue;        // queued genome ids
  // Kept as trials change state, so that a summary costs the same at any size.
  std::array<int64_t, v1::TrialState_ARRAYSIZE> count{};
  int64_t last_event = 0;  // sequence of this search's last event
  int64_t best_id = 0;  // the successful trial with the highest accuracy, 0 for none

  bool running() const { return summary.state() == v1::RUNNING; }

  void SetState(Trial& t, TrialState state) {
    --count[t.state()];
    t.set_state(state);
    Counted(t);
  }
  // Counts a trial in its state (a new trial, or one loaded from the store).
  void Counted(const Trial& t) {
    ++count[t.state()];
    if ((t.state() == v1::DONE || t.state() == v1::CACHED) && t.error().empty()) {
      const int64_t id = t.genome().id();
      if (best_id == 0) {
        best_id = id;
        return;
      }
      const double best = trials.at(best_id).accuracy();
      // Ties go to the older genome.
      if (t.accuracy() > best || (t.accuracy() == best && id < best_id)) best_id = id;
    }
  }
};

namespace {

constexpr int64_t kLeaseIdBlock = 1024;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool Finished(TrialState s) {
  return s == v1::DONE || s == v1::TRIAL_FAILED || s == v1::CACHED || s == v1::ABANDONED;
}

bool ValidFraction(double x) { return std::isfinite(x) && x >= 0 && x <= 1; }

v1::Genome GenomeProto(const ga::SearchSpace& space, const ga::Candidate& c) {
  v1::Genome g;
  for (int i = 0; i < space.num_genes(); ++i) {
    *g.add_values() = ga::GeneValueToProto(space.value(i, c.genome.choice[i]));
  }
  g.set_hash(ga::GenomeHash(space, c.genome));
  g.set_id(c.id);
  g.add_parents(c.parents[0]);
  g.add_parents(c.parents[1]);
  g.set_generation(c.generation);
  return g;
}

}  // namespace

Master::Master(std::unique_ptr<store::Store> store, const Clock* clock, MasterOptions options)
    : clock_(clock), options_(options), store_(std::move(store)) {
  ledger_ = std::make_unique<store::SqliteLedger>(store_.get());
}

Master::~Master() {
  absl::MutexLock lock(&mu_);
  // Only steps that failed and were rolled back can be left in an open batch.
  if (batch_open_ && broken_.ok()) (void)store_->db().ExecCached("COMMIT");
}

absl::StatusOr<std::unique_ptr<Master>> Master::Create(std::unique_ptr<store::Store> store,
                                                       const Clock* clock,
                                                       MasterOptions options) {
  std::unique_ptr<Master> master(new Master(std::move(store), clock, options));
  absl::MutexLock lock(&master->mu_);
  RETURN_IF_ERROR(master->Recover());
  return master;
}

absl::StatusOr<std::unique_ptr<Master::SearchRun>> Master::BuildRun(
    const v1::SearchSummary& summary) {
  auto run = std::make_unique<SearchRun>();
  run->summary = summary;
  ASSIGN_OR_RETURN(ga::SearchSpace space, ga::SearchSpace::FromProto(summary.spec().space()));
  run->space = std::move(space);
  ASSIGN_OR_RETURN(run->strategy, ga::MakeStrategy(*run->space, summary.spec()));
  run->rng.seed(summary.spec().seed());
  run->task_hash = Md5Hex(ga::TaskIdentity(summary.spec().task()));
  return run;
}

absl::Status Master::Recover() {
  ASSIGN_OR_RETURN(std::vector<v1::SearchSummary> searches, store_->LoadSearches());
  const int64_t now = clock_->NowMs();
  for (const v1::SearchSummary& summary : searches) {
    ASSIGN_OR_RETURN(std::unique_ptr<SearchRun> run, BuildRun(summary));
    ASSIGN_OR_RETURN(std::vector<Trial> trials, store_->LoadTrials(summary.search_id()));
    for (Trial& t : trials) run->trials[t.genome().id()] = std::move(t);
    for (const auto& [id, t] : run->trials) run->Counted(t);
    if (run->running()) {
      ASSIGN_OR_RETURN(std::vector<store::StrategyOp> ops, store_->LoadOps(summary.search_id()));
      for (const store::StrategyOp& op : ops) {
        if (op.kind == store::StrategyOp::kNext) {
          ASSIGN_OR_RETURN(std::vector<ga::Candidate> next, run->strategy->Next(1, run->rng));
          if (next.size() != 1 || next[0].id != op.genome_id) {
            return absl::DataLossError(absl::StrCat("search ", summary.search_id(),
                                                    ": replaying its strategy log diverged at "
                                                    "operation ",
                                                    op.seq));
          }
        } else {
          RETURN_IF_ERROR(run->strategy->Report(op.genome_id, ga::Fitness{op.ok, op.accuracy}));
        }
        run->op_seq = op.seq;
      }
    }
    run->generation_emitted = run->strategy->generation();
    for (auto& [id, t] : run->trials) {
      if (t.lease_id() > 0 && Finished(t.state())) {
        reported_[t.lease_id()] = {summary.search_id(), id};
      }
      if (!run->running()) continue;
      if (t.state() == v1::QUEUED) run->queue.push_back(id);
      if (t.state() == v1::LEASED) {
        // Its worker may still be training: give it a full lease to report.
        leases_[t.lease_id()] =
            Lease{t.lease_id(), summary.search_id(), id, t.worker_id(), now + options_.lease_ms};
      }
    }
    runs_[summary.search_id()] = std::move(run);
  }
  ASSIGN_OR_RETURN(next_lease_id_, store_->Counter("next_lease_id"));
  next_lease_id_ = std::max<int64_t>(next_lease_id_, 1);
  lease_ids_reserved_ = next_lease_id_;
  ASSIGN_OR_RETURN(stats_.reports_fenced, store_->Counter("reports_fenced"));
  ASSIGN_OR_RETURN(stats_.leases_expired, store_->Counter("leases_expired"));
  ASSIGN_OR_RETURN(last_event_, store_->LastEventSequence());
  durable_event_ = written_event_ = last_event_;
  return absl::OkStatus();
}

absl::Status Master::Broken(const absl::Status& status) {
  if (broken_.ok()) {
    broken_ = absl::UnavailableError(
        absl::StrCat("the master's database failed (", status.message(),
                     "); restart the master to recover from it"));
  }
  work_cv_.SignalAll();
  events_cv_.SignalAll();
  sync_cv_.SignalAll();
  return status;
}

absl::Status Master::BeginStep() {
  store::Database& db = store_->db();
  if (!batch_open_) {
    RETURN_IF_ERROR(db.ExecCached("BEGIN IMMEDIATE"));
    batch_open_ = true;
    ++batch_;
  }
  ++stats_.store_steps;
  return db.ExecCached("SAVEPOINT step");
}

absl::Status Master::EndStep(bool keep) {
  store::Database& db = store_->db();
  if (!keep) {
    RETURN_IF_ERROR(db.ExecCached("ROLLBACK TO step"));
    ledger_->Recount();
  }
  return db.ExecCached("RELEASE step");
}

absl::Status Master::AwaitDurable() {
  const int64_t want = batch_;
  while (synced_batch_ < want) {
    if (!broken_.ok()) return broken_;
    if (syncing_) {
      sync_cv_.Wait(&mu_);
      continue;
    }
    if (batch_open_) {
      const auto commit_start = std::chrono::steady_clock::now();
      if (absl::Status c = store_->db().ExecCached("COMMIT"); !c.ok()) return Broken(c);
      batch_open_ = false;
      written_batch_ = batch_;
      written_event_ = last_event_;
      ++stats_.store_commits;
      // Between two transactions, now and then: keeps the WAL from growing for ever
      // (a failure only means the WAL stays long until the next try).
      if (store_->db().WalWantsRestart() && store_->db().RestartWal().ok()) {
        ++stats_.store_wal_restarts;
      }
      commit_seconds_.Observe(SecondsSince(commit_start));
    }
    const int64_t batch = written_batch_;
    const int64_t event = written_event_;
    store::Database* db = &store_->db();
    syncing_ = true;
    mu_.Unlock();
    const auto sync_start = std::chrono::steady_clock::now();
    const absl::Status synced = db->SyncWal();
    sync_seconds_.Observe(SecondsSince(sync_start));
    mu_.Lock();
    syncing_ = false;
    sync_cv_.SignalAll();
    if (!synced.ok()) return Broken(synced);
    ++stats_.store_syncs;
    synced_batch_ = std::max(synced_batch_, batch);
    durable_event_ = std::max(durable_event_, event);
    events_cv_.SignalAll();
  }
  return broken_;
}

// Runs `body` as one step of the open batch. A step that fails with INVALID_ARGUMENT
// is rolled back alone; any other failure breaks the master. The caller answers only
// after AwaitDurable().
#define DEEPEVOLVE_IN_TRANSACTION(...)                                 \
  do {                                                                  \
    if (!broken_.ok()) return broken_;                                  \
    if (absl::Status b = BeginStep(); !b.ok()) return Broken(b);        \
    absl::Status s = [&]() -> absl::Status { __VA_ARGS__ }();           \
    if (absl::Status e = EndStep(s.ok()); !e.ok()) return Broken(e);    \
    if (!s.ok()) return absl::IsInvalidArgument(s) ? s : Broken(s);     \
  } while (0)

absl::Status Master::Emit(Event event) {
  event.set_unix_ms(clock_->NowMs());
  event.set_sequence(last_event_ + 1);
  RETURN_IF_ERROR(store_->AppendEvent(event));
  ++last_event_;
  if (auto it = runs_.find(event.search_id()); it != runs_.end()) {
    it->second->last_event = last_event_;
  }
  return absl::OkStatus();
}

absl::Status Master::PutTrial(const Trial& trial) { return store_->PutTrial(trial); }

absl::StatusOr<Master::SearchRun*> Master::FindRun(int64_t search_id) {
  auto it = runs_.find(search_id);
  if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("no search with id ", search_id));
  return it->second.get();
}

absl::StatusOr<v1::SearchSummary> Master::Submit(const v1::SearchSpec& submitted) {
  ASSIGN_OR_RETURN(v1::SearchSpec spec, ga::ResolveSearchSpec(submitted));
  absl::MutexLock lock(&mu_);
  if (spec.seed() == 0) spec.set_seed(static_cast<uint64_t>(clock_->NowMs()) * 2654435761u | 1);
  v1::SearchSummary summary;
  summary.set_name(spec.name().empty() ? spec.preset() : spec.name());
  *summary.mutable_spec() = spec;
  summary.set_state(v1::RUNNING);
  summary.set_created_unix_ms(clock_->NowMs());
  ASSIGN_OR_RETURN(std::unique_ptr<SearchRun> run, BuildRun(summary));
  SearchRun* r = run.get();
  DEEPEVOLVE_IN_TRANSACTION({
    ASSIGN_OR_RETURN(int64_t id, store_->InsertSearch(r->summary));
    r->summary.set_search_id(id);
    runs_[id] = std::move(run);
    // A generation is handed out whole; other strategies breed when a worker asks.
    return FillQueue(*r, r->summary.spec().has_generational() ? SIZE_MAX : 1);
  });
  RETURN_IF_ERROR(AwaitDurable());
  work_cv_.SignalAll();
  return Summarize(*r);
}

absl::Status Master::FillQueue(SearchRun& run, size_t want) {
  while (run.running() && run.queue.size() < want) {
    absl::StatusOr<std::vector<ga::Candidate>> next = run.strategy->Next(1, run.rng);
    if (!next.ok()) return FailSearch(run, next.status());
    if (next->empty()) break;
    const ga::Candidate& c = next->front();
    const int64_t search_id = run.summary.search_id();
    RETURN_IF_ERROR(store_->AppendOp(search_id, {++run.op_seq, store::StrategyOp::kNext, c.id}));
    if (run.strategy->generation() > run.generation_emitted) {
      for (int g = run.generation_emitted; g < run.strategy->generation(); ++g) {
        if (g == 0) continue;
        Event e;
        e.set_search_id(search_id);
        e.set_kind(Event::GENERATION_DONE);
        e.set_generation(g);
        *e.mutable_search() = Summarize(run);
        RETURN_IF_ERROR(Emit(std::move(e)));
      }
      run.generation_emitted = run.strategy->generation();
    }
    Trial& t = run.trials[c.id];
    run.Counted(t);  // as TRIAL_STATE_UNSPECIFIED until it is queued or answered
    t.set_search_id(search_id);
    *t.mutable_genome() = GenomeProto(*run.space, c);
    t.set_description(ga::DescribeGenome(*run.space, c.genome));
    t.set_seed(ga::TrialSeed(run.summary.spec().seed(), t.genome().hash()));
    std::optional<ga::TrialResult> hit;
    if (!run.summary.spec().retrain()) {
      hit = ledger_->Lookup(ga::LedgerKey{t.genome().hash(), run.task_hash});
    }
    Event e;
    e.set_search_id(search_id);
    if (hit.has_value()) {
      run.SetState(t, v1::CACHED);
      t.set_accuracy(hit->accuracy);
      t.set_test_accuracy(hit->test_accuracy);
      t.set_train_seconds(hit->train_seconds);
      t.set_epochs_run(hit->epochs_run);
      t.set_error(hit->error);
      t.set_finished_unix_ms(clock_->NowMs());
      ++stats_.ledger_hits;
      e.set_kind(Event::GENOME_CACHED);
      *e.mutable_trial() = t;
      RETURN_IF_ERROR(PutTrial(t));
      RETURN_IF_ERROR(Emit(std::move(e)));
      RETURN_IF_ERROR(ReportToStrategy(run, t, hit->ok, hit->accuracy));
    } else {
      run.SetState(t, v1::QUEUED);
      run.queue.push_back(c.id);
      e.set_kind(Event::GENOME_QUEUED);
      *e.mutable_trial() = t;
      RETURN_IF_ERROR(PutTrial(t));
      RETURN_IF_ERROR(Emit(std::move(e)));
    }
  }
  return CheckDone(run);
}

absl::Status Master::ReportToStrategy(SearchRun& run, Trial& trial, bool ok, double accuracy) {
  if (!run.running()) return absl::OkStatus();
  const int64_t id = trial.genome().id();
  RETURN_IF_ERROR(run.strategy->Report(id, ga::Fitness{ok, accuracy}));
  return store_->AppendOp(run.summary.search_id(),
                          {++run.op_seq, store::StrategyOp::kReport, id, ok, accuracy});
}

absl::Status Master::CheckDone(SearchRun& run) {
  if (!run.running() || !run.strategy->Done()) return absl::OkStatus();
  run.summary.set_state(v1::SUCCEEDED);
  run.summary.set_finished_unix_ms(clock_->NowMs());
  RETURN_IF_ERROR(store_->UpdateSearch(run.summary));
  Event g;
  g.set_search_id(run.summary.search_id());
  g.set_kind(Event::GENERATION_DONE);
  g.set_generation(run.strategy->generation());
  *g.mutable_search() = Summarize(run);
  RETURN_IF_ERROR(Emit(std::move(g)));
  Event e;
  e.set_search_id(run.summary.search_id());
  e.set_kind(Event::SEARCH_DONE);
  *e.mutable_search() = Summarize(run);
  return Emit(std::move(e));
}

absl::Status Master::FailSearch(SearchRun& run, const absl::Status& why) {
  run.summary.set_state(v1::FAILED);
  run.summary.set_error(std::string(why.message()));
  run.summary.set_finished_unix_ms(clock_->NowMs());
  for (int64_t id : run.queue) {
    Trial& t = run.trials[id];
    run.SetState(t, v1::ABANDONED);
    RETURN_IF_ERROR(PutTrial(t));
  }
  run.queue.clear();
  RETURN_IF_ERROR(store_->UpdateSearch(run.summary));
  Event e;
  e.set_search_id(run.summary.search_id());
  e.set_kind(Event::SEARCH_DONE);
  e.set_message(run.summary.error());
  *e.mutable_search() = Summarize(run);
  return Emit(std::move(e));
}

v1::SearchSummary Master::Summarize(const SearchRun& run) const {
  v1::SearchSummary s = run.summary;
  s.set_generation(run.strategy->generation());
  s.set_trials_planned(run.strategy->PlannedTrials());
  s.set_trials_running(run.count[v1::LEASED]);
  s.set_ledger_hits(run.count[v1::CACHED]);
  s.set_failed(run.count[v1::TRIAL_FAILED]);
  s.set_trials_done(run.count[v1::DONE] + run.count[v1::CACHED] + run.count[v1::TRIAL_FAILED]);
  if (run.best_id != 0) *s.mutable_best() = run.trials.at(run.best_id);
  return s;
}

absl::StatusOr<v1::SearchSummary> Master::Get(int64_t search_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  return Summarize(*run);
}

std::vector<v1::SearchSummary> Master::List() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::SearchSummary> out;
  for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) out.push_back(Summarize(*it->second));
  return out;
}

absl::StatusOr<v1::SearchSummary> Master::Cancel(int64_t search_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  if (!run->running()) return Summarize(*run);
  DEEPEVOLVE_IN_TRANSACTION({
    run->summary.set_state(v1::CANCELLED);
    run->summary.set_finished_unix_ms(clock_->NowMs());
    for (int64_t id : run->queue) {
      Trial& t = run->trials[id];
      run->SetState(t, v1::ABANDONED);
      RETURN_IF_ERROR(PutTrial(t));
    }
    run->queue.clear();
    RETURN_IF_ERROR(store_->UpdateSearch(run->summary));
    Event e;
    e.set_search_id(search_id);
    e.set_kind(Event::SEARCH_DONE);
    e.set_message("cancelled");
    *e.mutable_search() = Summarize(*run);
    return Emit(std::move(e));
  });
  RETURN_IF_ERROR(AwaitDurable());
  return Summarize(*run);
}

absl::StatusOr<std::vector<Trial>> Master::Trials(int64_t search_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  std::vector<Trial> out;
  for (const auto& [id, t] : run->trials) out.push_back(t);
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
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
  ASSIGN_OR_RETURN(auto model, store_->LoadModel(search_id));
  if (!model.has_value() || (genome_id != 0 && model->first != genome_id)) {
    return absl::NotFoundError(
        genome_id == 0
            ? absl::StrCat("search ", search_id, " has no stored model yet")
            : absl::StrCat("search ", search_id, " keeps the model of its best genome only, "
                                                 "not of genome ",
                           genome_id));
  }
  v1::Model out;
  *out.mutable_trial() = run->trials[model->first];
  out.set_data(std::move(model->second));
  return out;
}

absl::StatusOr<std::vector<Event>> Master::WaitEvents(int64_t search_id, int64_t after_sequence,
                                                      absl::Duration timeout, bool* finished) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  *finished = false;
  for (;;) {
    if (!broken_.ok()) return broken_;
    ASSIGN_OR_RETURN(SearchRun * run, FindRun(search_id));
    ASSIGN_OR_RETURN(std::vector<Event> events,
                     store_->LoadEvents(search_id, after_sequence, durable_event_, 1000));
    if (!events.empty()) return events;
    // Finished once its last event is durable (other searches' events may still not be).
    if (!run->running() && run->last_event <= durable_event_) {
      *finished = true;
      return events;
    }
    if (shutdown_) return absl::UnavailableError("the master is shutting down");
    if (events_cv_.WaitWithDeadline(&mu_, deadline)) return events;
  }
}

absl::StatusOr<v1::RegisterResponse> Master::Register(const v1::RegisterRequest& request) {
  if (request.worker_id().empty() || request.worker_id().size() > 256) {
    return absl::InvalidArgumentError("worker_id: must be 1 to 256 characters");
  }
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  WorkerInfo& w = workers_[request.worker_id()];
  if (w.incarnation != request.incarnation()) {
    // A restarted worker: the leases its previous life held are lost.
    std::vector<Lease> lost;
    for (const auto& [id, lease] : leases_) {
      if (lease.worker_id == request.worker_id()) lost.push_back(lease);
    }
    if (!lost.empty()) {
      DEEPEVOLVE_IN_TRANSACTION({
        for (Lease& lease : lost) RETURN_IF_ERROR(Requeue(lease, /*lost=*/true));
        return absl::OkStatus();
      });
    }
  }
  w.worker_id = request.worker_id();
  w.incarnation = request.incarnation();
  w.devices.clear();
  for (const v1::Device& d : request.devices()) w.devices.push_back(d.name());
  w.last_seen_ms = clock_->NowMs();
  RETURN_IF_ERROR(AwaitDurable());
  v1::RegisterResponse response;
  response.set_lease_ms(options_.lease_ms);
  return response;
}

absl::Status Master::Requeue(Lease lease, bool lost) {
  leases_.erase(lease.id);
  SearchRun* run = runs_[lease.search_id].get();
  Trial& t = run->trials[lease.genome_id];
  if (t.state() != v1::LEASED || t.lease_id() != lease.id) return absl::OkStatus();
  ++stats_.leases_expired;
  RETURN_IF_ERROR(store_->SetCounter("leases_expired", stats_.leases_expired));
  if (lost) t.set_lost(t.lost() + 1);
  Event e;
  e.set_search_id(lease.search_id);
  e.set_kind(Event::LEASE_EXPIRED);
  e.set_message(absl::StrCat("lease ", lease.id, " of worker ", lease.worker_id, " expired"));
  if (!run->running()) {
    run->SetState(t, v1::ABANDONED);
  } else if (t.lost() >= options_.max_lost_leases) {
    t.set_error(absl::StrCat("lost ", t.lost(), " workers while training it"));
    t.set_finished_unix_ms(clock_->NowMs());
    run->SetState(t, v1::TRIAL_FAILED);
    ++stats_.genomes_failed;
  } else {
    run->SetState(t, v1::QUEUED);
    run->queue.push_front(lease.genome_id);
    work_cv_.Signal();
  }
  *e.mutable_trial() = t;
  RETURN_IF_ERROR(PutTrial(t));
  RETURN_IF_ERROR(Emit(std::move(e)));
  if (t.state() == v1::TRIAL_FAILED) {
    RETURN_IF_ERROR(ReportToStrategy(*run, t, false, 0));
    RETURN_IF_ERROR(FillQueue(*run, run->summary.spec().has_generational() ? SIZE_MAX : 0));
  }
  return absl::OkStatus();
}

absl::Status Master::ExpireLeases() {
  const int64_t now = clock_->NowMs();
  std::vector<Lease> expired;
  for (const auto& [id, lease] : leases_) {
    if (lease.deadline_ms <= now) expired.push_back(lease);
  }
  for (Lease& lease : expired) RETURN_IF_ERROR(Requeue(lease, /*lost=*/true));
  return absl::OkStatus();
}

absl::Status Master::Tick() {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  if (std::none_of(leases_.begin(), leases_.end(),
                   [now](const auto& l) { return l.second.deadline_ms <= now; })) {
    return absl::OkStatus();
  }
  DEEPEVOLVE_IN_TRANSACTION({ return ExpireLeases(); });
  return AwaitDurable();
}

absl::StatusOr<std::optional<v1::Assignment>> Master::TryAssign(const std::string& worker_id) {
  if (runs_.empty()) return std::optional<v1::Assignment>();
  // Round robin over running searches, so that one search does not starve the others.
  std::vector<SearchRun*> order;
  for (auto& [id, run] : runs_) {
    if (run->running()) order.push_back(run.get());
  }
  if (order.empty()) return std::optional<v1::Assignment>();
  for (size_t i = 0; i < order.size(); ++i) {
    SearchRun& run = *order[(round_robin_ + i) % order.size()];
    if (run.queue.empty()) RETURN_IF_ERROR(FillQueue(run, 1));
    if (run.queue.empty()) continue;
    round_robin_ = (round_robin_ + i + 1) % order.size();
    const int64_t genome_id = run.queue.front();
    run.queue.pop_front();
    Trial& t = run.trials[genome_id];
    const int64_t lease_id = next_lease_id_++;
    if (next_lease_id_ > lease_ids_reserved_) {
      // Lease ids are reserved in blocks: the stored counter is where a restarted master
      // starts, above every id handed out, without a write per lease.
      lease_ids_reserved_ = next_lease_id_ + kLeaseIdBlock;
      RETURN_IF_ERROR(store_->SetCounter("next_lease_id", lease_ids_reserved_));
    }
    const int64_t deadline = clock_->NowMs() + options_.lease_ms;
    leases_[lease_id] = Lease{lease_id, run.summary.search_id(), genome_id, worker_id, deadline};
    run.SetState(t, v1::LEASED);
    t.set_lease_id(lease_id);
    t.set_lease_deadline_unix_ms(deadline);
    t.set_worker_id(worker_id);
    RETURN_IF_ERROR(PutTrial(t));
    Event e;
    e.set_search_id(run.summary.search_id());
    e.set_kind(Event::GENOME_STARTED);
    *e.mutable_trial() = t;
    RETURN_IF_ERROR(Emit(std::move(e)));
    v1::Assignment a;
    a.set_lease_id(lease_id);
    a.set_search_id(run.summary.search_id());
    *a.mutable_genome() = t.genome();
    for (const v1::Gene& gene : run.summary.spec().space().genes()) a.add_gene_names(gene.name());
    *a.mutable_task() = run.summary.spec().task();
    a.set_seed(t.seed());
    a.set_lease_deadline_unix_ms(deadline);
    a.set_upload_model(true);
    return std::make_optional(std::move(a));
  }
  return std::optional<v1::Assignment>();
}

absl::StatusOr<v1::AcquireResponse> Master::Acquire(const v1::AcquireRequest& request) {
  const int64_t wait_ms = std::clamp<int64_t>(request.wait_ms(), 0, options_.max_wait_ms);
  const absl::Time deadline = absl::Now() + absl::Milliseconds(wait_ms);
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (shutdown_) return absl::UnavailableError("the master is shutting down");
    auto w = workers_.find(request.worker_id());
    if (w == workers_.end() || w->second.incarnation != request.incarnation()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "worker ", request.worker_id(), " is not registered (register, then acquire)"));
    }
    w->second.last_seen_ms = clock_->NowMs();
    std::optional<v1::Assignment> assignment;
    DEEPEVOLVE_IN_TRANSACTION({
      RETURN_IF_ERROR(ExpireLeases());
      ASSIGN_OR_RETURN(assignment, TryAssign(request.worker_id()));
      return absl::OkStatus();
    });
    RETURN_IF_ERROR(AwaitDurable());
    if (assignment.has_value()) {
      v1::AcquireResponse response;
      *response.mutable_assignment() = std::move(*assignment);
      return response;
    }
    if (work_cv_.WaitWithDeadline(&mu_, deadline)) return v1::AcquireResponse();
  }
}

absl::StatusOr<v1::HeartbeatResponse> Master::Heartbeat(const v1::HeartbeatRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  v1::HeartbeatResponse response;
  auto it = leases_.find(request.lease_id());
  if (it == leases_.end()) {
    if (request.lease_id() <= 0 || request.lease_id() >= next_lease_id_) {
      return absl::NotFoundError(absl::StrCat("no lease with id ", request.lease_id()));
    }
    response.set_stop(true);  // expired, handed to another worker, or already reported
    return response;
  }
  Lease& lease = it->second;
  SearchRun& run = *runs_[lease.search_id];
  lease.deadline_ms = clock_->NowMs() + options_.lease_ms;
  response.set_lease_deadline_unix_ms(lease.deadline_ms);
  if (!run.running()) {
    response.set_stop(true);
    return response;
  }
  if (request.epoch() > 0) {
    Trial& t = run.trials[lease.genome_id];
    t.set_lease_deadline_unix_ms(lease.deadline_ms);
    DEEPEVOLVE_IN_TRANSACTION({
      Event e;
      e.set_search_id(lease.search_id);
      e.set_kind(Event::GENOME_PROGRESS);
      *e.mutable_trial() = t;
      e.set_epoch(request.epoch());
      e.set_epochs(request.epochs());
      e.set_loss(request.loss());
      e.set_val_accuracy(request.val_accuracy());
      e.set_elapsed_seconds(request.elapsed_seconds());
      return Emit(std::move(e));
    });
    RETURN_IF_ERROR(AwaitDurable());
  }
  return response;
}

absl::StatusOr<v1::ReportResponse> Master::Report(const v1::ReportRequest& request) {
  if (!ValidFraction(request.accuracy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("accuracy: ", request.accuracy(), " is not a number in [0, 1]"));
  }
  if (!ValidFraction(request.test_accuracy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("test_accuracy: ", request.test_accuracy(), " is not a number in [0, 1]"));
  }
  if (!std::isfinite(request.train_seconds()) || request.train_seconds() < 0) {
    return absl::InvalidArgumentError("train_seconds: must be a finite number >= 0");
  }
  if (request.error().size() > 4096) {
    return absl::InvalidArgumentError("error: longer than 4096 characters");
  }
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  v1::ReportResponse response;
  // The reporting worker's next genome, when it asked for one.
  auto assign_next = [&]() -> absl::Status {
    if (!request.acquire_next()) return absl::OkStatus();
    auto w = workers_.find(request.worker_id());
    if (w == workers_.end() || w->second.incarnation != request.incarnation()) {
      return absl::OkStatus();  // its next Acquire tells it to register
    }
    w->second.last_seen_ms = clock_->NowMs();
    ASSIGN_OR_RETURN(std::optional<v1::Assignment> next, TryAssign(request.worker_id()));
    if (next.has_value()) *response.mutable_next() = std::move(*next);
    return absl::OkStatus();
  };
  auto it = leases_.find(request.lease_id());
  if (it == leases_.end()) {
    if (reported_.contains(request.lease_id())) {
      // A repeated report of a recorded result, answered once that result is durable.
      if (request.acquire_next()) DEEPEVOLVE_IN_TRANSACTION({ return assign_next(); });
      RETURN_IF_ERROR(AwaitDurable());
      response.set_accepted(true);
      return response;
    }
    if (request.lease_id() <= 0 || request.lease_id() >= next_lease_id_) {
      return absl::NotFoundError(absl::StrCat("no lease with id ", request.lease_id()));
    }
    // Fenced: the lease expired and the genome went back to the queue.
    DEEPEVOLVE_IN_TRANSACTION({
      ++stats_.reports_fenced;
      RETURN_IF_ERROR(store_->SetCounter("reports_fenced", stats_.reports_fenced));
      return assign_next();
    });
    RETURN_IF_ERROR(AwaitDurable());
    response.set_accepted(false);
    return response;
  }
  const Lease lease = it->second;
  SearchRun& run = *runs_[lease.search_id];
  Trial& t = run.trials[lease.genome_id];
  DEEPEVOLVE_IN_TRANSACTION({
    leases_.erase(lease.id);
    t.set_train_seconds(request.train_seconds());
    t.set_epochs_run(request.epochs_run());
    t.set_worker_id(request.worker_id());
    Event e;
    e.set_search_id(lease.search_id);
    if (!request.ok()) {
      t.set_attempts(t.attempts() + 1);
      t.set_error(request.error().empty() ? "training failed" : request.error());
      if (t.attempts() < options_.max_genome_attempts && run.running()) {
        run.SetState(t, v1::QUEUED);
        run.queue.push_back(lease.genome_id);
        work_cv_.Signal();
        e.set_kind(Event::GENOME_FAILED);
        e.set_message(absl::StrCat("attempt ", t.attempts(), " failed, retrying: ", t.error()));
        *e.mutable_trial() = t;
        RETURN_IF_ERROR(PutTrial(t));
        reported_[lease.id] = {lease.search_id, lease.genome_id};
        RETURN_IF_ERROR(Emit(std::move(e)));
        return assign_next();
      }
    } else {
      t.set_error("");
      t.set_accuracy(request.accuracy());
      t.set_test_accuracy(request.test_accuracy());
    }
    run.SetState(t, request.ok() ? v1::DONE : v1::TRIAL_FAILED);
    t.set_finished_unix_ms(clock_->NowMs());
    request.ok() ? ++stats_.genomes_done : ++stats_.genomes_failed;
    ga::TrialResult result{request.ok(), request.accuracy(), request.test_accuracy(),
                           request.train_seconds(), request.epochs_run(), t.error()};
    absl::Status inserted = ledger_->Insert({t.genome().hash(), run.task_hash}, result);
    if (!inserted.ok() && !absl::IsAlreadyExists(inserted)) return inserted;
    if (request.ok() && !request.model().empty()) {
      const v1::SearchSummary before = Summarize(run);
      if (!before.has_best() || request.accuracy() > before.best().accuracy() ||
          before.best().genome().id() == t.genome().id()) {
        RETURN_IF_ERROR(store_->PutModel(lease.search_id, lease.genome_id, request.model()));
      }
    }
    RETURN_IF_ERROR(PutTrial(t));
    reported_[lease.id] = {lease.search_id, lease.genome_id};
    e.set_kind(request.ok() ? Event::GENOME_FINISHED : Event::GENOME_FAILED);
    *e.mutable_trial() = t;
    RETURN_IF_ERROR(Emit(std::move(e)));
    RETURN_IF_ERROR(ReportToStrategy(run, t, request.ok(), request.accuracy()));
    // Generational searches breed the next generation as soon as this one is in.
    RETURN_IF_ERROR(FillQueue(run, run.summary.spec().has_generational() ? SIZE_MAX : 0));
    return assign_next();
  });
  if (!run.queue.empty()) work_cv_.SignalAll();
  RETURN_IF_ERROR(AwaitDurable());
  response.set_accepted(true);
  return response;
}

void Master::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
  work_cv_.SignalAll();
  events_cv_.SignalAll();
}

MasterStats Master::Stats() {
  absl::MutexLock lock(&mu_);
  MasterStats s = stats_;
  s.leases_active = static_cast<int64_t>(leases_.size());
  for (const auto& [id, run] : runs_) s.queued += static_cast<int64_t>(run->queue.size());
  s.ledger_entries = ledger_->Count();
  s.store_checkpoints = store_->db().checkpoints();
  s.workers = static_cast<int64_t>(workers_.size());
  return s;
}

absl::Status Master::Health() {
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  if (shutdown_) return absl::UnavailableError("the master is shutting down");
  return absl::OkStatus();
}

std::vector<WorkerInfo> Master::Workers() {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerInfo> out;
  for (const auto& [id, w] : workers_) out.push_back(w);
  return out;
}

}  // namespace deepevolve::master
