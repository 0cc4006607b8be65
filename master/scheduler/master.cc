#include "master/scheduler/master.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "genome/genome.h"
#include "genome/metrics.h"
#include "master/ga/spec.h"
#include "master/scheduler/requests.h"
#include "spdlog/spdlog.h"

namespace deepevolve::master {

using v1::Event;
using v1::Trial;
using v1::TrialState;

Master::Master(std::unique_ptr<store::Store> store, const Clock* clock, MasterOptions options)
    : clock_(clock),
      options_(options),
      store_(std::move(store)),
      ledger_(std::make_unique<store::SqliteLedger>(store_.get())),
      commit_(&mu_, store_.get(), ledger_.get(), [this] { work_cv_.SignalAll(); }),
      leases_([&] {
        LeaseTable::Options o;
        o.lease_ms = options.lease_ms;
        o.first_epoch_ms = options.max_epoch_ms;
        o.remember_reported_ms = options.forget_after_ms;
        return o;
      }()) {}

Master::~Master() = default;

absl::StatusOr<std::unique_ptr<Master>> Master::Create(std::unique_ptr<store::Store> store,
                                                       const Clock* clock, MasterOptions options) {
  const store::Database& db = store->db();
  ASSIGN_OR_RETURN(
      store::ModelFiles models,
      store::ModelFiles::Open(db.path() + ".models", db.durability() == store::Durability::kFull));
  ASSIGN_OR_RETURN(
      store::CheckpointFiles checkpoints,
      store::CheckpointFiles::Open(
          options.checkpoint_dir.empty() ? db.path() + ".checkpoints" : options.checkpoint_dir,
          db.durability() == store::Durability::kFull));
  std::unique_ptr<Master> master(new Master(std::move(store), clock, options));
  master->models_.emplace(std::move(models));
  master->checkpoints_.emplace(std::move(checkpoints));
  absl::MutexLock lock(master->mu());
  RETURN_IF_ERROR(master->Recover());
  master->SweepCheckpoints();
  return master;
}

absl::Status Master::Recover() {
  RETURN_IF_ERROR(ledger_->Load());
  ASSIGN_OR_RETURN(std::vector<store::FinishedSearch> finished, store_->LoadFinishedIndex());
  for (const store::FinishedSearch& f : finished) finished_[f.search_id] = f.last_event;
  // Running searches, and those that ended but were not retired (trials still leased
  // when the master stopped, or recorded by a master that kept every search).
  ASSIGN_OR_RETURN(std::vector<v1::SearchSummary> searches, store_->LoadSearches());
  const int64_t now = clock_->NowMs();
  std::vector<std::pair<int64_t, std::string>> diverged;
  for (const v1::SearchSummary& summary : searches) {
    ASSIGN_OR_RETURN(std::unique_ptr<SearchRun> run, SearchRun::Create(summary));
    ASSIGN_OR_RETURN(std::vector<Trial> trials, store_->LoadTrials(summary.search_id()));
    run->LoadTrials(std::move(trials));
    if (run->running()) {
      ASSIGN_OR_RETURN(std::vector<store::StrategyOp> ops, store_->LoadOps(summary.search_id()));
      // A log this strategy cannot replay fails its search, not the master.
      if (absl::Status replayed = run->Replay(ops); !replayed.ok()) {
        diverged.emplace_back(summary.search_id(), std::string(replayed.message()));
      }
    }
    run->generation_emitted = run->strategy().generation();
    if (!run->running()) ending_.insert(summary.search_id());
    for (const auto& [id, t] : run->trials()) {
      if (!run->running()) break;
      if (t.lease_id() > 0 && genome::IsFinished(t.state())) {
        leases_.RestoreReported(t.lease_id(), summary.search_id(), id, now);
      }
      if (t.state() == v1::LEASED) {
        // Its worker may still be training: give it a full lease to report.
        Lease lease{t.lease_id(), summary.search_id(), id, t.worker_id(), t.worker_incarnation()};
        // Its stored curve (kept with a pruner) says how far it got; else the next
        // epoch heartbeat does.
        lease.epoch_base = t.curve_size() > 0 ? t.curve(t.curve_size() - 1).epoch() : -1;
        leases_.Restore(lease, now);
      }
    }
    runs_[summary.search_id()] = std::move(run);
  }
  ASSIGN_OR_RETURN(const int64_t next_lease_id, store_->Counter("next_lease_id"));
  leases_.StartIdsAt(next_lease_id);
  ASSIGN_OR_RETURN(stats_.reports_fenced, store_->Counter("reports_fenced"));
  ASSIGN_OR_RETURN(stats_.leases_expired, store_->Counter("leases_expired"));
  ASSIGN_OR_RETURN(stats_.genomes_done, store_->Counter("genomes_done"));
  ASSIGN_OR_RETURN(stats_.genomes_failed, store_->Counter("genomes_failed"));
  ASSIGN_OR_RETURN(stats_.genomes_pruned, store_->Counter("genomes_pruned"));
  ASSIGN_OR_RETURN(stats_.ledger_hits, store_->Counter("ledger_hits"));
  ASSIGN_OR_RETURN(stats_.setup_failures, store_->Counter("setup_failures"));
  ASSIGN_OR_RETURN(const int64_t last_event, store_->LastEventSequence());
  commit_.StartEventsAfter(last_event);
  if (!diverged.empty()) {
    RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
      for (const auto& [search_id, message] : diverged) {
        RETURN_IF_ERROR(EndSearch(*runs_.at(search_id), v1::FAILED, message));
      }
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(commit_.AwaitDurable());
  }
  if (ending_.empty()) return absl::OkStatus();
  // Their workers' leases were not restored: what they held is abandoned, and the
  // searches retire.
  RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
    for (const int64_t search_id : ending_) {
      SearchRun& run = *runs_.at(search_id);
      std::vector<int64_t> leased;
      for (const auto& [id, t] : run.trials()) {
        if (t.state() == v1::LEASED) leased.push_back(id);
      }
      for (const int64_t id : leased) {
        Trial& t = run.trial(id);
        run.SetState(t, v1::ABANDONED);
        RETURN_IF_ERROR(store_->PutTrial(t));
      }
    }
    return absl::OkStatus();
  }));
  return commit_.AwaitDurable();
}

absl::Status Master::Step(absl::FunctionRef<absl::Status()> body) {
  return commit_.Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
    RETURN_IF_ERROR(body());
    std::vector<int64_t> done;
    for (const int64_t id : ending_) {
      if (runs_.at(id)->leased() == 0) done.push_back(id);
    }
    for (const int64_t id : done) RETURN_IF_ERROR(Retire(*runs_.at(id)));
    return absl::OkStatus();
  });
}

absl::Status Master::Retire(SearchRun& run) {
  const int64_t id = run.id();
  for (const auto& [genome_id, t] : run.trials()) {
    if (t.checkpoint_epoch() > 0) DropCheckpoint(run.trial(genome_id));
  }
  v1::SearchSummary summary = run.Summarize();
  RETURN_IF_ERROR(
      store_->PutFinished(summary, run.last_event, run.Best(kStoredLeaderboard), run.Ranking()));
  finished_[id] = run.last_event;
  recent_.push_back(std::move(summary));
  if (recent_.size() > static_cast<size_t>(options_.max_running_searches)) recent_.pop_front();
  ending_.erase(id);
  runs_.erase(id);
  return absl::OkStatus();
}

Event Master::NewEvent(const SearchRun& run, Event::Kind kind, const Trial* trial,
                       std::string message) const {
  Event e;
  e.set_search_id(run.id());
  e.set_kind(kind);
  if (trial != nullptr && kind == Event::GENOME_PROGRESS) {
    // One per epoch: the trial's name, not the trial (its curve grows each epoch).
    Trial& t = *e.mutable_trial();
    t.set_search_id(trial->search_id());
    *t.mutable_genome() = trial->genome();
    t.set_worker_id(trial->worker_id());
  } else if (trial != nullptr) {
    *e.mutable_trial() = *trial;
  } else {
    *e.mutable_search() = run.Summarize();
  }
  if (!message.empty()) e.set_message(std::move(message));
  return e;
}

absl::Status Master::Emit(SearchRun& run, Event event) {
  ASSIGN_OR_RETURN(run.last_event, commit_.AppendEvent(std::move(event), clock_->NowMs()));
  return absl::OkStatus();
}

absl::Status Master::PutTrial(SearchRun& run, const Trial& t, Event::Kind kind,
                              std::string message) {
  RETURN_IF_ERROR(store_->PutTrial(t));
  return Emit(run, NewEvent(run, kind, &t, std::move(message)));
}

absl::Status Master::CountIn(const char* counter, int64_t* value) {
  ++*value;
  return store_->SetCounter(counter, *value);
}

absl::StatusOr<SearchRun*> Master::FindRun(int64_t search_id) {
  auto it = runs_.find(search_id);
  if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("no search with id ", search_id));
  return it->second.get();
}

v1::SearchSummary Master::Summarize(const SearchRun& run) const {
  v1::SearchSummary summary = run.Summarize();
  if (run.running()) summary.set_waiting(workers_.Waiting(run.spec().task().trainer()));
  return summary;
}

absl::StatusOr<v1::SearchSummary> Master::Summary(int64_t search_id) {
  if (auto it = runs_.find(search_id); it != runs_.end()) return Summarize(*it->second);
  if (finished_.contains(search_id)) {
    ASSIGN_OR_RETURN(std::optional<v1::SearchSummary> summary, store_->LoadFinished(search_id));
    if (summary.has_value()) return *std::move(summary);
  }
  return absl::NotFoundError(absl::StrCat("no search with id ", search_id));
}

absl::Status Master::FillQueue(SearchRun& run, size_t want) {
  while (run.running() && run.queued() < want) {
    absl::StatusOr<std::vector<ga::Candidate>> next = run.strategy().Next(1, run.rng());
    if (!next.ok()) return EndSearch(run, v1::FAILED, std::string(next.status().message()));
    if (next->empty()) break;
    const ga::Candidate& c = next->front();
    RETURN_IF_ERROR(store_->AppendOp(run.id(), {run.NextOpSeq(), store::StrategyOp::kNext, c.id}));
    for (int g = run.generation_emitted; g < run.strategy().generation(); ++g) {
      if (g == 0) continue;
      Event e = NewEvent(run, Event::GENERATION_DONE, nullptr);
      e.set_generation(g);
      RETURN_IF_ERROR(Emit(run, std::move(e)));
    }
    run.generation_emitted = std::max(run.generation_emitted, run.strategy().generation());
    Trial& t = run.AddTrial(c);
    std::optional<genome::TrialResult> hit;
    // A round of population-based training is not answered from the ledger: the rounds
    // after it go on from its checkpoint, which only a training leaves.
    if (!run.spec().retrain() && !run.spec().has_pbt()) {
      // A store that cannot say fails the step: a genome is never trained again for it.
      ASSIGN_OR_RETURN(hit, ledger_->Lookup({t.genome().hash(), run.task_hash()}));
    }
    // A pruned result is partial: the genome trains again, and its full result (or a
    // new pruned one) is recorded; only a full one replaces the entry.
    if (hit.has_value() && hit->pruned) hit.reset();
    if (hit.has_value()) {
      RETURN_IF_ERROR(AnswerFromLedger(run, t, *hit));
    } else {
      run.SetState(t, v1::QUEUED);
      run.Enqueue(c.id);
      RETURN_IF_ERROR(PutTrial(run, t, Event::GENOME_QUEUED));
    }
  }
  return CheckDone(run);
}

absl::Status Master::Refill(SearchRun& run) {
  return FillQueue(run, run.generational() ? SIZE_MAX : 0);
}

absl::Status Master::AnswerFromLedger(SearchRun& run, Trial& t, const genome::TrialResult& hit) {
  t.set_accuracy(hit.accuracy);
  t.set_test_accuracy(hit.test_accuracy);
  t.set_train_seconds(hit.train_seconds);
  t.set_epochs_run(hit.epochs_run);
  t.set_error(hit.error);
  genome::CopyMetrics(hit.metrics, t.mutable_metrics());
  t.set_imported_from(hit.source);
  t.set_finished_unix_ms(clock_->NowMs());
  run.SetState(t, v1::CACHED);  // ranked by the accuracy it has now
  RETURN_IF_ERROR(CountIn("ledger_hits", &stats_.ledger_hits));
  RETURN_IF_ERROR(PutTrial(run, t, Event::GENOME_CACHED));
  return ReportToStrategy(run, t, hit.ok, hit.accuracy, /*pruned=*/false);
}

absl::Status Master::ReportToStrategy(SearchRun& run, const Trial& trial, bool ok, double accuracy,
                                      bool pruned) {
  if (!run.running()) return absl::OkStatus();
  const int64_t id = trial.genome().id();
  if (absl::Status reported = run.strategy().Report(id, run.FitnessOf(trial, ok, accuracy, pruned));
      !reported.ok()) {
    // The strategy's own failure ends its search, not the master.
    return EndSearch(run, v1::FAILED,
                     absl::StrCat("search ", run.id(), ": its strategy could not take genome ", id,
                                  "'s result: ", reported.message()));
  }
  return store_->AppendOp(run.id(),
                          {run.NextOpSeq(), store::StrategyOp::kReport, id, ok, accuracy, pruned});
}

absl::Status Master::CheckDone(SearchRun& run) {
  if (!run.running() || !run.strategy().Done()) return absl::OkStatus();
  return EndSearch(run, v1::SUCCEEDED, "");
}

absl::Status Master::EndSearch(SearchRun& run, v1::SearchState state, const std::string& message) {
  for (Trial* t : run.End(state, clock_->NowMs(), state == v1::FAILED ? message : "")) {
    DropCheckpoint(*t);
    RETURN_IF_ERROR(store_->PutTrial(*t));
  }
  RETURN_IF_ERROR(ReleaseRoundCheckpoints(run));
  RETURN_IF_ERROR(store_->UpdateSearch(run.stored_summary()));
  ending_.insert(run.id());
  if (state == v1::SUCCEEDED) {
    Event g = NewEvent(run, Event::GENERATION_DONE, nullptr);
    g.set_generation(run.strategy().generation());
    RETURN_IF_ERROR(Emit(run, std::move(g)));
  }
  return Emit(run, NewEvent(run, Event::SEARCH_DONE, nullptr, message));
}

absl::StatusOr<v1::RegisterResponse> Master::Register(const v1::RegisterRequest& request) {
  RETURN_IF_ERROR(ValidateRegistration(request));
  absl::MutexLock lock(mu());
  if (!commit_.broken().ok()) return commit_.broken();
  // A worker in another incarnation (restarted) lost the leases of its previous life.
  std::vector<Lease> lost;
  for (const Lease& lease : leases_.HeldBy(request.worker_id())) {
    if (lease.incarnation != request.incarnation()) lost.push_back(lease);
  }
  if (!lost.empty()) {
    RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
      for (const Lease& lease : lost) RETURN_IF_ERROR(Requeue(lease));
      return absl::OkStatus();
    }));
  }
  workers_.Register(request, clock_->NowMs());
  if (request.trainers_size() > 0) {
    RETURN_IF_ERROR(
        Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) { return PinWaitingSearches(); }));
  }
  RETURN_IF_ERROR(commit_.AwaitDurable());
  v1::RegisterResponse response;
  response.set_lease_ms(options_.lease_ms);
  return response;
}

absl::Status Master::PinWaitingSearches() {
  const int64_t now = clock_->NowMs();
  for (auto& [id, run] : runs_) {
    if (!run->running()) continue;
    const std::string& trainer = run->spec().task().trainer();
    const std::string pinned = workers_.Pin(trainer, now, ActiveWorkerMs());
    // Unchanged: pinned already, the built-in trainer, offered as it is, or no version
    // offered yet.
    if (pinned == trainer) continue;
    if (absl::Status s = run->PinTrainer(pinned); !s.ok()) continue;
    spdlog::info("search {}: trainer '{}' runs as {}, the newest version a worker offers", id,
                 trainer, pinned);
    RETURN_IF_ERROR(store_->UpdateSearch(run->stored_summary()));
    work_cv_.SignalAll();
  }
  return absl::OkStatus();
}

absl::Status Master::Requeue(const Lease& lease, bool released) {
  leases_.Drop(lease.id);
  auto found = runs_.find(lease.search_id);
  if (found == runs_.end()) return absl::OkStatus();  // retired: nothing of it is leased
  SearchRun& run = *found->second;
  Trial& t = run.trial(lease.genome_id);
  if (t.state() != v1::LEASED || t.lease_id() != lease.id) return absl::OkStatus();
  if (!released) RETURN_IF_ERROR(CountIn("leases_expired", &stats_.leases_expired));
  if (t.pruned_at_epoch() > 0 && run.running()) {
    // Stopped by the pruner before its worker was lost: its result is the master's own
    // (training it again would count its epochs twice). Only the test accuracy is lost.
    v1::ReportRequest lost;
    lost.set_ok(false);
    if (t.curve_size() > 0) lost.set_train_seconds(t.curve(t.curve_size() - 1).elapsed_seconds());
    return RecordResult(run, t, lost, /*has_model=*/false, nullptr);
  }
  // The epochs its worker trained after the checkpoint it resumes from (all, without
  // one) are lost.
  const int last_epoch = t.curve_size() > 0 ? t.curve(t.curve_size() - 1).epoch() : 0;
  const int lost_epochs = std::max(0, last_epoch - ResumeEpoch(t));
  run.Change(t, [lost_epochs](Trial& t) {
    t.set_lost(t.lost() + 1);
    t.set_epochs_lost(t.epochs_lost() + lost_epochs);
  });
  if (!run.running()) {
    DropCheckpoint(t);
    run.SetState(t, v1::ABANDONED);
  } else if (t.lost() >= options_.max_lost_leases) {
    DropCheckpoint(t);
    t.set_error(absl::StrCat("lost ", t.lost(),
                             " workers while training it (their leases ran out or its trials "
                             "ran past their time budget)"));
    t.set_finished_unix_ms(clock_->NowMs());
    run.SetState(t, v1::TRIAL_FAILED);
    RETURN_IF_ERROR(CountIn("genomes_failed", &stats_.genomes_failed));
  } else {
    run.SetState(t, v1::QUEUED);
    run.EnqueueFront(lease.genome_id);
    work_cv_.Signal();
  }
  const int64_t now = clock_->NowMs();
  const bool over_budget = lease.deadline_ms > now && LeaseTable::OverBudget(lease, now);
  RETURN_IF_ERROR(
      PutTrial(run, t, Event::LEASE_EXPIRED,
               released ? absl::StrCat("lease ", lease.id, " handed back by worker ",
                                       lease.worker_id, " (draining); requeued")
               : over_budget
                   ? absl::StrCat("lease ", lease.id, " of worker ", lease.worker_id,
                                  " ran past its time budget (no epoch finished for ",
                                  (now - lease.start_ms) / 1000,
                                  " s since it began or since the "
                                  "last epoch's allowance); requeued")
                   : absl::StrCat("lease ", lease.id, " of worker ", lease.worker_id, " expired")));
  if (t.state() != v1::TRIAL_FAILED) return absl::OkStatus();
  if (run.pruner() != nullptr) run.pruner()->Finished(t.genome().id(), /*completed=*/false);
  RETURN_IF_ERROR(ReportToStrategy(run, t, false, 0, /*pruned=*/false));
  RETURN_IF_ERROR(Refill(run));
  return ReleaseRoundCheckpoints(run);
}

absl::Status Master::ExpireLeases() {
  for (const Lease& lease : leases_.Expired(clock_->NowMs())) RETURN_IF_ERROR(Requeue(lease));
  return absl::OkStatus();
}

absl::Status Master::Tick() {
  absl::MutexLock lock(mu());
  const int64_t now = clock_->NowMs();
  leases_.ForgetReported(now);
  for (const std::string& worker : workers_.Idle(now, options_.forget_after_ms)) {
    if (leases_.HeldBy(worker).empty()) workers_.Forget(worker);
  }
  if (!leases_.AnyExpired(now)) return absl::OkStatus();
  RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) { return ExpireLeases(); }));
  return commit_.AwaitDurable();
}

absl::StatusOr<std::optional<v1::Assignment>> Master::TryAssign(const std::string& worker_id,
                                                                int64_t incarnation) {
  // Round robin over running searches, so that one search does not starve the others.
  std::vector<SearchRun*> order;
  for (auto& [id, run] : runs_) {
    if (run->running()) order.push_back(run.get());
  }
  const WorkerInfo* worker = workers_.Find(worker_id);
  for (size_t i = 0; i < order.size(); ++i) {
    SearchRun& run = *order[(round_robin_ + i) % order.size()];
    if (run.Excludes(worker_id)) continue;
    if (worker == nullptr || !worker->Offers(run.spec().task().trainer())) continue;
    if (run.queued() == 0) RETURN_IF_ERROR(FillQueue(run, 1));
    const std::optional<int64_t> genome_id = run.PopQueued();
    if (!genome_id.has_value()) continue;
    round_robin_ = (round_robin_ + i + 1) % order.size();
    return Assign(run, *genome_id, worker_id, incarnation);
  }
  return std::optional<v1::Assignment>();
}

absl::StatusOr<v1::Assignment> Master::Assign(SearchRun& run, int64_t genome_id,
                                              const std::string& worker_id, int64_t incarnation) {
  int64_t reserve_up_to = 0;
  const Lease lease =
      leases_.Grant(run.id(), genome_id, worker_id, incarnation, clock_->NowMs(), &reserve_up_to);
  if (reserve_up_to > 0) RETURN_IF_ERROR(store_->SetCounter("next_lease_id", reserve_up_to));
  Trial& t = run.trial(genome_id);
  run.SetState(t, v1::LEASED);
  t.set_lease_id(lease.id);
  t.set_lease_deadline_unix_ms(lease.deadline_ms);
  t.set_worker_id(worker_id);
  t.set_worker_incarnation(incarnation);
  // The points of an attempt that was lost or failed after its checkpoint (all, without
  // one): gone from the trial and from the pruner alike, as a restart would find them.
  // The next worker resumes after the checkpoint's epoch (a round of population-based
  // training without one of its own: after the round it goes on from).
  const int resume = ResumeEpoch(t);
  run.KeepCurveTo(t, resume);
  t.set_pruned_at_epoch(0);
  if (t.checkpoint_epoch() > 0) {
    run.Change(t, [](Trial& t) { t.set_resumes(t.resumes() + 1); });
    t.set_resume_error("");
    ++stats_.resumes;
  }
  // Its time budget counts from the epoch it resumes after.
  if (resume > 0) leases_.Find(lease.id)->epoch_base = resume;
  RETURN_IF_ERROR(PutTrial(run, t, Event::GENOME_STARTED));
  v1::Assignment a;
  a.set_lease_id(lease.id);
  a.set_search_id(run.id());
  *a.mutable_genome() = t.genome();
  for (const v1::Gene& gene : run.spec().space().genes()) a.add_gene_names(gene.name());
  *a.mutable_task() = run.spec().task();
  a.set_seed(t.seed());
  a.set_lease_deadline_unix_ms(lease.deadline_ms);
  a.set_upload_model(true);
  *a.mutable_checkpoint() = run.spec().checkpoint();
  a.set_resume_epoch(resume);
  a.set_stop_epoch(t.stop_epoch());
  if (t.checkpoint_epoch() == 0 && resume > 0) {
    // The checkpoint is the round's it goes on from: the worker checks it is that one's.
    const Trial& from = run.trial(t.genome().parents(0));
    *a.mutable_resume_genome() = from.genome();
    a.set_resume_seed(from.seed());
  }
  if (resume > 0 && !options_.checkpoint_dir.empty()) {
    // A worker that shares the directory reads it there.
    a.set_checkpoint_file(store::CheckpointFiles::NameOf({run.id(), ResumeOwner(t), resume}));
  }
  // A worker uploads a model only above the best accuracy it was told. With several
  // objectives a less accurate genome may join the front: it is told none.
  if (!run.several_objectives() && run.best_genome_id() != 0) {
    a.set_best_accuracy(run.trial(run.best_genome_id()).accuracy());
  }
  return a;
}

absl::StatusOr<v1::AcquireResponse> Master::Acquire(const v1::AcquireRequest& request) {
  const int64_t wait_ms = std::clamp<int64_t>(request.wait_ms(), 0, options_.max_wait_ms);
  const absl::Time deadline = absl::Now() + absl::Milliseconds(wait_ms);
  absl::MutexLock lock(mu());
  for (;;) {
    if (shutdown_) return absl::UnavailableError("the master is shutting down");
    if (!workers_.Touch(request.worker_id(), request.incarnation(), clock_->NowMs())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "worker ", request.worker_id(), " is not registered (register, then acquire)"));
    }
    std::optional<v1::Assignment> assignment;
    RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
      RETURN_IF_ERROR(ExpireLeases());
      ASSIGN_OR_RETURN(assignment, TryAssign(request.worker_id(), request.incarnation()));
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(commit_.AwaitDurable());
    if (assignment.has_value()) {
      v1::AcquireResponse response;
      *response.mutable_assignment() = std::move(*assignment);
      return response;
    }
    if (work_cv_.WaitWithDeadline(mu(), deadline)) return v1::AcquireResponse();
  }
}

absl::StatusOr<v1::HeartbeatResponse> Master::Heartbeat(const v1::HeartbeatRequest& request) {
  RETURN_IF_ERROR(ValidateHeartbeat(request));
  absl::MutexLock lock(mu());
  if (!commit_.broken().ok()) return commit_.broken();
  return RecordHeartbeat(request, 0);
}

absl::StatusOr<v1::HeartbeatResponse> Master::RecordHeartbeat(const v1::HeartbeatRequest& request,
                                                              int checkpoint_epoch) {
  v1::HeartbeatResponse response;
  Lease* lease = leases_.Find(request.lease_id());
  if (lease == nullptr) {
    if (leases_.Classify(request.lease_id()) == LeaseTable::Kind::kUnknown) {
      return absl::NotFoundError(absl::StrCat("no lease with id ", request.lease_id()));
    }
    response.set_stop(true);  // expired, handed to another worker, or already reported
    return response;
  }
  if (!lease->HeldBy(request.worker_id(), request.incarnation())) {
    ++stats_.heartbeats_refused;
    return NotTheHolder(*lease, request.worker_id(), request.incarnation());
  }
  workers_.Touch(request.worker_id(), request.incarnation(), clock_->NowMs());
  auto found = runs_.find(lease->search_id);
  leases_.Renew(*lease, clock_->NowMs());
  response.set_lease_deadline_unix_ms(lease->deadline_ms);
  if (found == runs_.end() || !found->second->running()) {
    response.set_stop(true);
    return response;
  }
  SearchRun& run = *found->second;
  if (!run.several_objectives() && run.best_genome_id() != 0) {
    response.set_best_accuracy(run.trial(run.best_genome_id()).accuracy());
  }
  Trial& t = run.trial(lease->genome_id);
  if (request.epoch() > run.spec().task().epochs()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "epoch: ", request.epoch(), " is past the task's ", run.spec().task().epochs()));
  }
  if (request.epoch() > 0 && !request.resume_error().empty() && t.resume_error().empty() &&
      request.resumed_from_epoch() < ResumeEpoch(t)) {
    // The worker could not resume from the checkpoint it was given (corrupt, missing):
    // it trains from its first epoch (or the one it says) again. What the checkpoint
    // held is lost, and so is its part of the curve. (A round of population-based
    // training trains its round from the first epoch.)
    const int dropped = ResumeEpoch(t) - request.resumed_from_epoch();
    const bool own = t.checkpoint_epoch() > 0;
    spdlog::warn("search {} genome {}: not resumed after epoch {}: {}", run.id(), t.genome().id(),
                 ResumeEpoch(t), request.resume_error());
    run.Change(t, [dropped, own, &request](Trial& t) {
      if (own) t.set_resumes(std::max(0, t.resumes() - 1));
      t.set_epochs_lost(t.epochs_lost() + dropped);
      t.set_start_epoch(std::min(t.start_epoch(), request.resumed_from_epoch()));
    });
    t.set_resume_error(request.resume_error());
    DropCheckpoint(t);
    run.KeepCurveTo(t, request.resumed_from_epoch());
    lease->epoch_base = -1;  // its time budget counts from this epoch on
  }
  // Stopped already (a retried heartbeat, or a worker that trained on): the answer stands.
  response.set_prune(t.pruned_at_epoch() > 0);
  // A retry of an earlier epoch's heartbeat that arrives after a later one (the first
  // try timed out at the worker but was still queued here) adds nothing: the curve
  // keeps one point per epoch, in order.
  const int last_epoch = t.curve_size() > 0 ? t.curve(t.curve_size() - 1).epoch() : 0;
  if ((request.epoch() > 0 && request.epoch() < last_epoch) || t.pruned_at_epoch() > 0) {
    // No worker hears `prune` before the decision is durable: the heartbeat that made
    // it may still wait for its batch's sync, and a crash before it would leave the
    // worker stopped on a decision the restarted master never made.
    if (response.prune()) RETURN_IF_ERROR(commit_.AwaitDurable());
    return response;
  }
  if (request.epoch() > 0) {
    leases_.Progressed(*lease, request.epoch(), clock_->NowMs());
    t.set_lease_deadline_unix_ms(lease->deadline_ms);
    // A retried heartbeat replaces its epoch's point instead of adding one.
    v1::EpochPoint& point =
        t.curve_size() > 0 && t.curve(t.curve_size() - 1).epoch() == request.epoch()
            ? *t.mutable_curve(t.curve_size() - 1)
            : *t.add_curve();
    point.set_epoch(request.epoch());
    point.set_val_accuracy(request.val_accuracy());
    point.set_loss(request.loss());
    point.set_elapsed_seconds(request.elapsed_seconds());
    // Kept where a pruner of several objectives compares them (a trial's final metrics
    // come with its report).
    if (run.several_objectives()) *point.mutable_metrics() = request.metrics();
    ga::Pruner* pruner = run.pruner();
    if (pruner != nullptr &&
        pruner->Record(t.genome().id(), request.epoch(), run.ScoreAt(t.genome().id(), point))) {
      t.set_pruned_at_epoch(request.epoch());
      response.set_prune(true);
    }
    RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
      // Without a pruner the curve is in memory until the trial is stored with its
      // result (the event is durable now). With one, the pruner's knowledge and its
      // decision are the stored curves and marks: stored before the worker is told. A
      // checkpoint that came with the progress is stored with it.
      if (checkpoint_epoch > 0) t.set_checkpoint_epoch(checkpoint_epoch);
      if (pruner != nullptr || checkpoint_epoch > 0) RETURN_IF_ERROR(store_->PutTrial(t));
      Event e = NewEvent(run, Event::GENOME_PROGRESS, &t);
      e.set_epoch(request.epoch());
      e.set_epochs(request.epochs());
      e.set_loss(request.loss());
      e.set_val_accuracy(request.val_accuracy());
      e.set_elapsed_seconds(request.elapsed_seconds());
      return Emit(run, std::move(e));
    }));
    RETURN_IF_ERROR(commit_.AwaitDurable());
  }
  return response;
}

absl::StatusOr<v1::ReportResponse> Master::Report(const v1::ReportRequest& request) {
  RETURN_IF_ERROR(ValidateReport(request));
  // The model is written before the lock is taken (it may be large), once the lease is
  // known to be live and the caller's, and published (renamed) once its result is
  // durable; otherwise it is removed after.
  std::optional<std::string> staged;
  if (request.ok() && !request.model().empty() && MayStageModel(request)) {
    ASSIGN_OR_RETURN(staged, models_->Stage(request.model()));
  }
  bool published = false;
  absl::StatusOr<v1::ReportResponse> response = RecordReport(request, staged, &published);
  if (staged.has_value() && !published) store::ModelFiles::Discard(*staged);
  if (published) RETURN_IF_ERROR(models_->SyncDirectory());
  return response;
}

bool Master::MayStageModel(const v1::ReportRequest& request) {
  absl::MutexLock lock(mu());
  if (!commit_.broken().ok() || leases_.Classify(request.lease_id()) != LeaseTable::Kind::kLive) {
    return false;
  }
  return leases_.Find(request.lease_id())->HeldBy(request.worker_id(), request.incarnation());
}

absl::StatusOr<v1::ReportResponse> Master::RecordReport(const v1::ReportRequest& request,
                                                        const std::optional<std::string>& staged,
                                                        bool* published) {
  absl::MutexLock lock(mu());
  if (!commit_.broken().ok()) return commit_.broken();
  v1::ReportResponse response;
  switch (leases_.Classify(request.lease_id())) {
    case LeaseTable::Kind::kUnknown:
      return absl::NotFoundError(absl::StrCat("no lease with id ", request.lease_id()));
    case LeaseTable::Kind::kReported:
      // A repeated report of a recorded result, answered once that result is durable.
      if (request.acquire_next()) {
        RETURN_IF_ERROR(Step(
            [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) { return AssignNext(request, &response); }));
      }
      RETURN_IF_ERROR(commit_.AwaitDurable());
      response.set_accepted(true);
      return response;
    case LeaseTable::Kind::kFenced:
      // The lease expired and the genome went back to the queue.
      RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
        RETURN_IF_ERROR(CountIn("reports_fenced", &stats_.reports_fenced));
        return AssignNext(request, &response);
      }));
      RETURN_IF_ERROR(commit_.AwaitDurable());
      response.set_accepted(false);
      return response;
    case LeaseTable::Kind::kLive:
      break;
  }
  const Lease lease = *leases_.Find(request.lease_id());
  if (!lease.HeldBy(request.worker_id(), request.incarnation())) {
    ++stats_.reports_refused;
    return NotTheHolder(lease, request.worker_id(), request.incarnation());
  }
  if (request.released()) {
    // Handed back without a result: to the next worker, from its last checkpoint.
    RETURN_IF_ERROR(Step(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) { return Requeue(lease, /*released=*/true); }));
    RETURN_IF_ERROR(commit_.AwaitDurable());
    response.set_accepted(true);
    return response;
  }
  // A held lease keeps its search in memory (it retires once nothing is leased).
  SearchRun& run = *runs_.at(lease.search_id);
  if (request.epochs_run() > run.spec().task().epochs()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "epochs_run: ", request.epochs_run(), " is past the task's ", run.spec().task().epochs()));
  }
  Trial& t = run.trial(lease.genome_id);
  bool more_work = false;
  ModelChange models;
  RETURN_IF_ERROR(Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu()) -> absl::Status {
    leases_.Reported(lease.id, clock_->NowMs());
    t.set_train_seconds(request.train_seconds());
    t.set_epochs_run(request.epochs_run());
    if (!request.ok() && request.failure_kind() == v1::FAILURE_KIND_SETUP) {
      RETURN_IF_ERROR(RecordSetupFailure(run, t, lease.worker_id, request.error()));
      return AssignNext(request, &response);
    }
    run.SetupWorked(lease.worker_id);
    if (request.ok() && request.pruned_at_epoch() > 0 && t.pruned_at_epoch() == 0) {
      // The worker stopped on a `prune` this master does not remember (it crashed
      // before the decision was durable): a partial result all the same.
      t.set_pruned_at_epoch(std::clamp(request.pruned_at_epoch(), 1, run.spec().task().epochs()));
    }
    // A pruned genome's result is what the master recorded when it stopped it.
    const bool pruned = t.pruned_at_epoch() > 0;
    if (!request.ok() && !pruned) {
      t.set_attempts(t.attempts() + 1);
      t.set_error(request.error().empty() ? "training failed" : request.error());
    }
    if (!request.ok() && !pruned && t.attempts() < options_.max_genome_attempts && run.running()) {
      RETURN_IF_ERROR(RecordRetry(run, t));
    } else {
      RETURN_IF_ERROR(RecordResult(run, t, request, staged.has_value(), &models));
    }
    // A generation may have been bred whole; a steady-state search can breed one more
    // for a worker waiting in Acquire.
    more_work = run.queued() > 0 || (run.running() && !run.generational());
    return AssignNext(request, &response);
  }));
  if (more_work) work_cv_.SignalAll();
  RETURN_IF_ERROR(commit_.AwaitDurable());
  // The result is durable: the files follow it. A file that cannot be moved or removed
  // leaves its key without a model (an export says so), never the master broken.
  if (models.publish.has_value()) {
    if (absl::Status s = models_->Publish(*staged, *models.publish); s.ok()) {
      *published = true;
    } else {
      spdlog::warn("the model of {} is not kept: {}", models.publish->ToString(),
                   std::string(s.message()));
      (void)models_->Remove(*models.publish);
    }
  }
  if (models.remove.has_value()) {
    if (absl::Status s = models_->Remove(*models.remove); !s.ok()) {
      spdlog::warn("an outdated model of {} stays: {}", models.remove->ToString(),
                   std::string(s.message()));
    }
  }
  response.set_accepted(true);
  return response;
}

absl::Status Master::RecordSetupFailure(SearchRun& run, Trial& t, const std::string& worker_id,
                                        const std::string& error) {
  RETURN_IF_ERROR(CountIn("setup_failures", &stats_.setup_failures));
  t.set_setup_failures(t.setup_failures() + 1);
  t.set_error(error.empty() ? "the worker could not set up the training" : error);
  if (!run.running()) {
    run.SetState(t, v1::ABANDONED);
    return store_->PutTrial(t);
  }
  run.SetState(t, v1::QUEUED);
  run.EnqueueFront(t.genome().id());
  work_cv_.Signal();
  const bool excluded = run.SetupFailed(worker_id);
  RETURN_IF_ERROR(PutTrial(
      run, t, Event::GENOME_FAILED,
      absl::StrCat("worker ", worker_id, " could not set it up (not counted against the genome)",
                   excluded ? absl::StrCat("; after ", SearchRun::kSetupFailuresToExclude,
                                           " such failures in a row it gets no more of this "
                                           "search's genomes")
                            : "",
                   ": ", t.error())));
  // Only the workers that offer the search's trainer could ever set it up.
  const v1::TaskSpec& task = run.spec().task();
  for (const WorkerInfo& w : workers_.List()) {
    if (w.Offers(task.trainer()) && !run.Excludes(w.worker_id)) return absl::OkStatus();
  }
  return EndSearch(
      run, v1::FAILED,
      absl::StrCat("no registered worker can set up this search's task (",
                   task.trainer().empty() ? "" : absl::StrCat("trainer ", task.trainer(), ", "),
                   "dataset ", task.dataset(), "): ", t.error()));
}

absl::Status Master::RecordRetry(SearchRun& run, Trial& t) {
  DropCheckpoint(t);  // a retry trains from the first epoch
  run.SetState(t, v1::QUEUED);
  run.Enqueue(t.genome().id());
  work_cv_.Signal();
  return PutTrial(run, t, Event::GENOME_FAILED,
                  absl::StrCat("attempt ", t.attempts(), " failed, retrying: ", t.error()));
}

absl::Status Master::RecordResult(SearchRun& run, Trial& t, const v1::ReportRequest& request,
                                  bool has_model, ModelChange* change) {
  const bool pruned = t.pruned_at_epoch() > 0;
  const bool ok = request.ok() || pruned;
  std::string message;
  if (pruned) {
    // The validation accuracy the pruner stopped it on, at the epoch it stopped it (the
    // worker's word for it when the point was lost in a restart).
    t.set_accuracy(request.ok() ? request.accuracy() : 0);
    for (const v1::EpochPoint& p : t.curve()) {
      if (p.epoch() == t.pruned_at_epoch()) t.set_accuracy(p.val_accuracy());
    }
    t.set_epochs_run(t.pruned_at_epoch());
    t.set_test_accuracy(request.ok() ? request.test_accuracy() : 0);
    if (!request.ok()) {
      message = absl::StrCat("no test accuracy: ", request.error().empty()
                                                       ? "its worker was lost after it was stopped"
                                                       : request.error());
    }
    t.set_error("");
  } else if (request.ok()) {
    t.set_error("");
    t.set_accuracy(request.accuracy());
    t.set_test_accuracy(request.test_accuracy());
  }
  *t.mutable_metrics() = request.metrics();
  run.SetState(t, pruned ? v1::PRUNED : ok ? v1::DONE : v1::TRIAL_FAILED);
  t.set_finished_unix_ms(clock_->NowMs());
  RETURN_IF_ERROR(pruned ? CountIn("genomes_pruned", &stats_.genomes_pruned)
                  : ok   ? CountIn("genomes_done", &stats_.genomes_done)
                         : CountIn("genomes_failed", &stats_.genomes_failed));
  genome::TrialResult result;
  result.ok = ok;
  result.accuracy = t.accuracy();
  result.test_accuracy = t.test_accuracy();
  result.train_seconds = request.train_seconds();
  result.epochs_run = t.epochs_run();
  result.error = t.error();
  result.pruned = pruned || t.stop_epoch() > 0;  // partial: an earlier round's result
  result.metrics = genome::MetricsFrom(t.metrics());
  const genome::LedgerKey key{t.genome().hash(), run.task_hash()};
  const absl::Status inserted = ledger_->Insert(key, result);
  if (!inserted.ok() && !absl::IsAlreadyExists(inserted)) return inserted;
  // A model file is the training's that made its key's entry (an export's weights are
  // those of the result it shows), and only the best genome's model is kept — with
  // several objectives, that of each genome on the front when it reported, so that any
  // member can be exported. A result that did not make the entry (a retrain, a
  // concurrent search) keeps none.
  if (inserted.ok() && change != nullptr) {
    const bool keep = run.several_objectives() ? run.OnFront(t.genome().id())
                                               : run.best_genome_id() == t.genome().id();
    if (has_model && keep) {
      change->publish = key;
    } else {
      change->remove = key;
    }
  }
  if (run.pruner() != nullptr) run.pruner()->Finished(t.genome().id(), genome::IsCompleted(t));
  // A round of population-based training keeps the state its last epoch left, for the
  // next round to go on from (ReleaseRoundCheckpoints removes it when none will).
  const bool next_round_goes_on = ok && !pruned && t.stop_epoch() > 0 &&
                                  t.epochs_run() == t.stop_epoch() &&
                                  t.checkpoint_epoch() == t.stop_epoch();
  if (!next_round_goes_on) DropCheckpoint(t);
  RETURN_IF_ERROR(PutTrial(run, t,
                           pruned ? Event::GENOME_PRUNED
                           : ok   ? Event::GENOME_FINISHED
                                  : Event::GENOME_FAILED,
                           std::move(message)));
  RETURN_IF_ERROR(ReportToStrategy(run, t, ok, t.accuracy(), pruned));
  RETURN_IF_ERROR(Refill(run));
  return ReleaseRoundCheckpoints(run);
}

absl::Status Master::ReleaseRoundCheckpoints(SearchRun& run) {
  if (!run.spec().has_pbt()) return absl::OkStatus();
  // The rounds that rounds still to be trained go on from.
  absl::flat_hash_set<int64_t> wanted;
  for (const auto& [id, t] : run.trials()) {
    if ((t.state() == v1::QUEUED || t.state() == v1::LEASED) && t.start_epoch() > 0) {
      wanted.insert(t.genome().parents(0));
    }
  }
  std::vector<int64_t> released;
  for (const auto& [id, t] : run.trials()) {
    if (t.checkpoint_epoch() == 0 || !genome::IsFinished(t.state())) continue;
    // The latest round's, until the next round is decided.
    const bool latest = run.running() && t.genome().generation() == run.strategy().generation();
    if (!latest && !wanted.contains(id)) released.push_back(id);
  }
  for (const int64_t id : released) {
    Trial& t = run.trial(id);
    DropCheckpoint(t);
    RETURN_IF_ERROR(store_->PutTrial(t));
  }
  return absl::OkStatus();
}

absl::Status Master::AssignNext(const v1::ReportRequest& request, v1::ReportResponse* response) {
  if (!request.acquire_next()) return absl::OkStatus();
  // An unregistered worker's next Acquire tells it to register.
  if (!workers_.Touch(request.worker_id(), request.incarnation(), clock_->NowMs())) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<v1::Assignment> next,
                   TryAssign(request.worker_id(), request.incarnation()));
  if (next.has_value()) *response->mutable_next() = std::move(*next);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Master::CheckpointRefusal(const v1::HeartbeatRequest& progress,
                                                      store::CheckpointFiles::Id* id) {
  Lease* lease = leases_.Find(progress.lease_id());
  if (lease == nullptr) {
    if (leases_.Classify(progress.lease_id()) == LeaseTable::Kind::kUnknown) {
      return absl::NotFoundError(absl::StrCat("no lease with id ", progress.lease_id()));
    }
    return absl::StrCat("lease ", progress.lease_id(), " is not live");
  }
  if (!lease->HeldBy(progress.worker_id(), progress.incarnation())) {
    ++stats_.heartbeats_refused;
    return NotTheHolder(*lease, progress.worker_id(), progress.incarnation());
  }
  auto found = runs_.find(lease->search_id);
  if (found == runs_.end() || !found->second->running()) return std::string("the search has ended");
  SearchRun& run = *found->second;
  if (run.spec().checkpoint().disabled()) return std::string("the search takes no checkpoints");
  const Trial& t = run.trial(lease->genome_id);
  if (t.state() != v1::LEASED || t.lease_id() != lease->id) {
    return absl::StrCat("lease ", progress.lease_id(), " is not live");
  }
  if (t.pruned_at_epoch() > 0) return std::string("the pruner stopped the trial");
  const int epoch = progress.epoch();
  if (epoch > run.spec().task().epochs()) {
    return absl::InvalidArgumentError(
        absl::StrCat("epoch: ", epoch, " is past the task's ", run.spec().task().epochs()));
  }
  if (epoch <= ResumeEpoch(t)) {
    return absl::StrCat("epoch ", epoch, " is not after the stored checkpoint's (", ResumeEpoch(t),
                        ")");
  }
  if (t.stop_epoch() > 0 && epoch > t.stop_epoch()) {
    return absl::StrCat("epoch ", epoch, " is past the round's last (", t.stop_epoch(), ")");
  }
  // The last epoch reported (a heartbeat came first, or this is a retry) or the next.
  const int last = t.curve_size() > 0 ? t.curve(t.curve_size() - 1).epoch() : 0;
  if (epoch < last || epoch > last + 1) {
    return absl::StrCat("epoch ", epoch, " is not the last reported (", last, ") or the next");
  }
  *id = {run.id(), t.genome().id(), epoch};
  return std::string();
}

absl::StatusOr<v1::SaveCheckpointResponse> Master::CheckpointWanted(
    const v1::HeartbeatRequest& progress) {
  RETURN_IF_ERROR(ValidateHeartbeat(progress));
  if (progress.epoch() < 1) return absl::InvalidArgumentError("progress.epoch: must be >= 1");
  absl::MutexLock lock(mu());
  if (!commit_.broken().ok()) return commit_.broken();
  store::CheckpointFiles::Id id;
  ASSIGN_OR_RETURN(std::string refusal, CheckpointRefusal(progress, &id));
  v1::SaveCheckpointResponse response;
  if (!refusal.empty()) {
    ++stats_.checkpoints_refused;
    response.set_reason(std::move(refusal));
  }
  return response;
}

absl::StatusOr<v1::SaveCheckpointResponse> Master::SaveCheckpoint(
    const v1::HeartbeatRequest& progress, const std::string& data, const std::string& shared_file) {
  const bool shared = !shared_file.empty();
  if (shared && options_.checkpoint_dir.empty()) {
    return absl::FailedPreconditionError(
        "this master keeps checkpoints in a directory of its own (it has no --checkpoint-dir): "
        "send the checkpoint's bytes");
  }
  if (!shared && data.empty()) return absl::InvalidArgumentError("the checkpoint is empty");
  if (static_cast<int64_t>(data.size()) > options_.max_checkpoint_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a checkpoint of ", data.size(), " bytes is over the master's limit of ",
                     options_.max_checkpoint_bytes, " (--max-checkpoint-mb)"));
  }
  RETURN_IF_ERROR(ValidateHeartbeat(progress));
  if (progress.epoch() < 1) return absl::InvalidArgumentError("progress.epoch: must be >= 1");
  // In a shared directory the worker staged it: checked first, and removed if refused.
  int64_t size = static_cast<int64_t>(data.size());
  std::string staged;
  if (shared) {
    ASSIGN_OR_RETURN(staged,
                     checkpoints_->Claim(shared_file, options_.max_checkpoint_bytes, &size));
  }
  // Written and moved into place under a name of its epoch without the lock (it may be
  // large); recorded with the progress if the lease is still the sender's and the
  // epoch still wanted.
  v1::SaveCheckpointResponse response;
  store::CheckpointFiles::Id id;
  {
    absl::MutexLock lock(mu());
    absl::StatusOr<std::string> refusal = std::string();
    if (absl::Status broken = commit_.broken(); !broken.ok()) {
      refusal = broken;
    } else {
      refusal = CheckpointRefusal(progress, &id);
    }
    if (!refusal.ok() || !refusal->empty()) {
      if (shared) store::StagedFiles::Discard(staged);
      if (!refusal.ok()) return refusal.status();
      ++stats_.checkpoints_refused;
      response.set_reason(*std::move(refusal));
      return response;
    }
  }
  const std::string name = store::CheckpointFiles::NameOf(id);
  if (!shared) {
    ASSIGN_OR_RETURN(staged, checkpoints_->Stage(data));
  }
  if (absl::Status s = checkpoints_->Publish(staged, name); !s.ok()) {
    store::StagedFiles::Discard(staged);
    return s;
  }
  RETURN_IF_ERROR(checkpoints_->SyncDirectory());
  absl::MutexLock lock(mu());
  if (!commit_.broken().ok()) return commit_.broken();
  store::CheckpointFiles::Id again;
  ASSIGN_OR_RETURN(std::string refusal, CheckpointRefusal(progress, &again));
  if (!refusal.empty()) {
    ++stats_.checkpoints_refused;
    // The same epoch's file may be the one recorded (a save sent twice): keep that.
    if (checkpoint_sizes_.count(name) == 0) (void)checkpoints_->Remove(name);
    response.set_reason(std::move(refusal));
    return response;
  }
  const int older = runs_.at(id.search_id)->trial(id.genome_id).checkpoint_epoch();
  ASSIGN_OR_RETURN(*response.mutable_heartbeat(), RecordHeartbeat(progress, id.epoch));
  checkpoint_sizes_[name] = size;
  ++stats_.checkpoints_saved;
  if (older > 0) {
    // The record names the newer one now (RecordHeartbeat waited for it to be durable).
    store::CheckpointFiles::Id old = id;
    old.epoch = older;
    RemoveCheckpointFile(store::CheckpointFiles::NameOf(old));
  }
  response.set_accepted(true);
  return response;
}

absl::StatusOr<Master::Checkpoint> Master::GetCheckpoint(const v1::GetCheckpointRequest& request) {
  std::string name;
  int epoch = 0;
  {
    absl::MutexLock lock(mu());
    Lease* lease = leases_.Find(request.lease_id());
    if (lease == nullptr) {
      return absl::NotFoundError(absl::StrCat("lease ", request.lease_id(), " is not live"));
    }
    if (!lease->HeldBy(request.worker_id(), request.incarnation())) {
      ++stats_.heartbeats_refused;
      return NotTheHolder(*lease, request.worker_id(), request.incarnation());
    }
    auto found = runs_.find(lease->search_id);
    if (found == runs_.end()) return absl::NotFoundError("the search has ended");
    const Trial& t = found->second->trial(lease->genome_id);
    epoch = ResumeEpoch(t);
    if (epoch == 0) {
      return absl::NotFoundError(absl::StrCat("genome ", t.genome().id(), " of search ",
                                              t.search_id(), " has no checkpoint"));
    }
    // Its own, or the one the round it goes on from left.
    name = store::CheckpointFiles::NameOf({t.search_id(), ResumeOwner(t), epoch});
  }
  ASSIGN_OR_RETURN(std::optional<std::string> data, checkpoints_->Read(name));
  if (!data.has_value()) {
    return absl::NotFoundError(absl::StrCat("the checkpoint file ", name, " is gone"));
  }
  return Checkpoint{epoch, std::move(*data)};
}

void Master::RemoveCheckpointFile(const std::string& name) {
  if (absl::Status s = checkpoints_->Remove(name); !s.ok()) {
    spdlog::warn("a checkpoint stays: {}", std::string(s.message()));
  }
  checkpoint_sizes_.erase(name);
}

void Master::DropCheckpoint(Trial& t) {
  if (t.checkpoint_epoch() == 0) return;
  RemoveCheckpointFile(
      store::CheckpointFiles::NameOf({t.search_id(), t.genome().id(), t.checkpoint_epoch()}));
  t.set_checkpoint_epoch(0);
}

void Master::SweepCheckpoints() {
  for (const auto& [name, size] : checkpoints_->List()) {
    const std::optional<store::CheckpointFiles::Id> id = store::CheckpointFiles::Parse(name);
    bool named = false;
    if (id.has_value()) {
      if (auto run = runs_.find(id->search_id); run != runs_.end() && run->second->running()) {
        const auto& trials = run->second->trials();
        auto t = trials.find(id->genome_id);
        // A running trial's, or a finished round's that a later round goes on from.
        named = t != trials.end() && t->second.checkpoint_epoch() == id->epoch &&
                (t->second.state() == v1::LEASED || t->second.state() == v1::QUEUED ||
                 (t->second.stop_epoch() > 0 && genome::IsFinished(t->second.state())));
      }
    }
    if (!named) {
      (void)checkpoints_->Remove(name);
      continue;
    }
    checkpoint_sizes_[name] = size;
  }
}

void Master::Shutdown() {
  absl::MutexLock lock(mu());
  shutdown_ = true;
  work_cv_.SignalAll();
  commit_.WakeEventWaiters();
}

}  // namespace deepevolve::master
