#include "master/scheduler/search_run.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/md5.h"
#include "common/status_macros.h"
#include "genome/genome.h"
#include "master/ga/pbt.h"
#include "master/ga/spec.h"

namespace deepevolve::master {
namespace {

v1::Genome GenomeProto(const genome::SearchSpace& space, const ga::Candidate& c) {
  v1::Genome g;
  for (int i = 0; i < space.num_genes(); ++i) {
    // An inactive gene has no value: it is not part of this genome.
    v1::GeneValue* value = g.add_values();
    if (genome::IsActive(space, c.genome, i)) {
      *value = genome::GeneValueToProto(space.value(i, c.genome.choice[i]));
    }
  }
  g.set_hash(genome::GenomeHash(space, c.genome));
  g.set_id(c.id);
  g.add_parents(c.parents[0]);
  g.add_parents(c.parents[1]);
  g.set_generation(c.generation);
  return g;
}

// The candidate a stored trial was made from (GenomeProto's inverse); DATA_LOSS when
// the trial's genes are not a genome of `space` with the stored hash (for a round of
// population-based training, of its schedule: `trials` holds the round it goes on from).
absl::StatusOr<ga::Candidate> StoredCandidate(const genome::SearchSpace& space,
                                              const std::map<int64_t, v1::Trial>& trials,
                                              const v1::Trial& t) {
  const v1::Genome& g = t.genome();
  ga::Candidate c;
  c.id = c.uid = g.id();
  c.generation = g.generation();
  for (int i = 0; i < 2 && i < g.parents_size(); ++i) c.parents[i] = g.parents(i);
  // The stored genes by name; an inactive gene has no value.
  genome::NamedGenome named;
  for (int i = 0; i < space.num_genes() && i < g.values_size(); ++i) {
    if (g.values(i).value_case() == v1::GeneValue::VALUE_NOT_SET) continue;
    named.emplace_back(space.gene(i).name, genome::GeneValueFromProto(g.values(i)));
  }
  absl::StatusOr<genome::Genome> stored = genome::FromNamedGenome(space, named);
  std::string hash = stored.ok() ? genome::GenomeHash(space, *stored) : "";
  if (stored.ok() && t.member() > 0) {
    c.round = ga::Candidate::Round{t.member(), t.start_epoch(), t.stop_epoch()};
    auto from = trials.find(c.parents[0]);
    hash = genome::ScheduleHash(
        t.start_epoch() > 0 && from != trials.end() ? from->second.genome().hash() : "", hash,
        t.stop_epoch());
  }
  if (!stored.ok() || hash != g.hash()) {
    return absl::DataLossError(
        absl::StrCat("the stored genes of genome ", g.id(), " are not the genome it trained"));
  }
  c.genome = *std::move(stored);
  return c;
}

// A round's schedule: that of the round it goes on from (`from`, or none) and its own
// epochs and training genes — "1-2: learning_rate=0.01 dropout=0.2, 3-4: ..." — its
// range joined to the last one where it goes on under the same genes, and marked
// "(from member M)" where it went on from another member's round.
std::string Schedule(const genome::SearchSpace& space, const ga::Candidate& c, int epochs,
                     const v1::Trial* from) {
  std::vector<std::string> genes;
  for (absl::string_view name : ga::PbtTrainingGenes()) {
    if (std::optional<int> g = space.FindGene(name)) {
      genes.push_back(
          absl::StrCat(name, "=", genome::GeneValueToString(space.value(*g, c.genome.choice[*g]))));
    }
  }
  const std::string own = absl::StrJoin(genes, " ");
  const int stop = c.round->stop_epoch > 0 ? c.round->stop_epoch : epochs;
  if (from == nullptr) return absl::StrCat(c.round->start_epoch + 1, "-", stop, ": ", own);
  const bool copied = from->member() != c.round->member;
  std::vector<std::string> rounds = absl::StrSplit(from->schedule(), ", ");
  std::string& last = rounds.back();
  const size_t colon = last.find(": ");
  const size_t dash = last.find('-');
  std::string last_genes = colon == std::string::npos ? "" : last.substr(colon + 2);
  if (const size_t mark = last_genes.find(" (from member"); mark != std::string::npos) {
    last_genes.resize(mark);
  }
  if (!copied && last_genes == own && dash != std::string::npos && dash < colon) {
    last = absl::StrCat(last.substr(0, dash + 1), stop, last.substr(colon));
  } else {
    rounds.push_back(
        absl::StrCat(c.round->start_epoch + 1, "-", stop, ": ", own,
                     copied ? absl::StrCat(" (from member ", from->member(), ")") : ""));
  }
  return absl::StrJoin(rounds, ", ");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SearchRun>> SearchRun::Create(const v1::SearchSummary& summary) {
  std::unique_ptr<SearchRun> run(new SearchRun());
  run->summary_ = summary;
  ASSIGN_OR_RETURN(genome::SearchSpace space,
                   genome::SearchSpace::FromProto(summary.spec().space(),
                                                  ga::GeneNamesFor(summary.spec().task())));
  run->space_ = std::move(space);
  ASSIGN_OR_RETURN(run->strategy_, ga::MakeStrategy(*run->space_, summary.spec()));
  run->rng_.seed(summary.spec().seed());
  run->task_hash_ = Md5Hex(genome::TaskIdentity(summary.spec().task()));
  run->pruner_ = ga::MakePruner(summary.spec().pruner(), summary.spec().task().epochs(),
                                ga::IsMultiObjective(summary.spec()));
  if (ga::IsMultiObjective(summary.spec())) run->objectives_.emplace(summary.spec());
  return run;
}

void SearchRun::LoadTrials(std::vector<v1::Trial> trials) {
  for (v1::Trial& t : trials) {
    const int64_t id = t.genome().id();
    trials_[id] = std::move(t);
  }
  for (const auto& [id, t] : trials_) Counted(t);
  if (!running()) return;
  // The pruner knows what the curves it was shown say: show it the stored ones again.
  if (pruner_ != nullptr) {
    for (const auto& [id, t] : trials_) {
      for (const v1::EpochPoint& p : t.curve()) pruner_->Restore(id, p.epoch(), ScoreAt(id, p));
      if (t.state() != v1::LEASED && t.state() != v1::QUEUED)
        pruner_->Finished(id, genome::IsCompleted(t));
    }
  }
  for (const auto& [id, t] : trials_) {
    if (t.state() == v1::QUEUED) queue_.push_back(id);
  }
}

absl::Status SearchRun::PinTrainer(const std::string& pinned) {
  for (const auto& [genome_id, t] : trials_) {
    if (t.state() != v1::QUEUED) {
      return absl::FailedPreconditionError(absl::StrCat("search ", id(), " has trials of trainer ",
                                                        spec().task().trainer(), " already"));
    }
  }
  summary_.mutable_spec()->mutable_task()->set_trainer(pinned);
  task_hash_ = Md5Hex(genome::TaskIdentity(summary_.spec().task()));
  return absl::OkStatus();
}

absl::Status SearchRun::Replay(const std::vector<store::StrategyOp>& ops) {
  for (const store::StrategyOp& op : ops) {
    auto stored = trials_.find(op.genome_id);
    if (op.kind == store::StrategyOp::kNext && strategy_->ReplaysByAdopting() &&
        stored != trials_.end()) {
      // The trial holds what Next handed out: take it back rather than breed again.
      absl::StatusOr<ga::Candidate> c = StoredCandidate(*space_, trials_, stored->second);
      absl::Status adopted = c.ok() ? strategy_->Adopt(*c, rng_) : c.status();
      if (!adopted.ok()) {
        return absl::DataLossError(absl::StrCat("search ", id(),
                                                ": replaying its strategy log failed at operation ",
                                                op.seq, ": ", adopted.message()));
      }
    } else if (op.kind == store::StrategyOp::kNext) {
      ASSIGN_OR_RETURN(std::vector<ga::Candidate> next, strategy_->Next(1, rng_));
      // The same id is not enough: every strategy numbers its genomes 1, 2, ... A
      // strategy that changed (an upgrade, another library's random numbers) hands out
      // other genomes under the same ids, so the genome itself must match the trial's.
      if (next.size() != 1 || next[0].id != op.genome_id ||
          (stored != trials_.end() &&
           genome::GenomeHash(*space_, next[0].genome) != stored->second.genome().hash())) {
        return absl::DataLossError(absl::StrCat(
            "search ", id(), ": replaying its strategy log diverged at operation ", op.seq,
            next.size() == 1 && next[0].id == op.genome_id
                ? absl::StrCat(" (genome ", op.genome_id, " is no longer the one it trained)")
                : ""));
      }
    } else {
      // The stored trial holds the metrics its report brought.
      RETURN_IF_ERROR(strategy_->Report(
          op.genome_id, stored != trials_.end()
                            ? FitnessOf(stored->second, op.ok, op.accuracy, op.pruned)
                            : ga::Fitness(op.ok, op.accuracy, op.pruned)));
    }
    op_seq_ = op.seq;
  }
  generation_emitted = strategy_->generation();
  return absl::OkStatus();
}

std::vector<v1::Trial*> SearchRun::End(v1::SearchState state, int64_t now_ms,
                                       const std::string& error) {
  summary_.set_state(state);
  summary_.set_finished_unix_ms(now_ms);
  // Stored with the summary: a finished search's strategy is not replayed at recovery.
  summary_.set_generation(strategy_->generation());
  if (!error.empty()) summary_.set_error(error);
  std::vector<v1::Trial*> abandoned;
  for (int64_t id : queue_) {
    v1::Trial& t = trials_.at(id);
    SetState(t, v1::ABANDONED);
    abandoned.push_back(&t);
  }
  queue_.clear();
  return abandoned;
}

v1::SearchSummary SearchRun::Summarize() const {
  v1::SearchSummary s = summary_;
  s.set_generation(std::max(strategy_->generation(), summary_.generation()));
  s.set_trials_planned(strategy_->PlannedTrials());
  s.set_trials_running(count_[v1::LEASED]);
  s.set_ledger_hits(count_[v1::CACHED]);
  s.set_failed(count_[v1::TRIAL_FAILED]);
  s.set_trials_done(count_[v1::DONE] + count_[v1::CACHED] + count_[v1::TRIAL_FAILED] +
                    count_[v1::PRUNED]);
  s.set_pruned(count_[v1::PRUNED]);
  s.set_epochs_trained(epochs_trained_);
  s.set_epochs_saved(epochs_saved_);
  s.set_preempted(preempted_);
  s.set_resumes(resumes_);
  s.set_epochs_lost(epochs_lost_);
  if (const int64_t best = best_genome_id(); best != 0) *s.mutable_best() = trials_.at(best);
  if (objectives_.has_value()) {
    const FrontStats& front = Front();
    s.set_front_size(front.size);
    s.set_hypervolume(front.hypervolume);
  }
  return s;
}

const SearchRun::FrontStats& SearchRun::Front() const {
  ParetoRanking();  // refreshes front_ with the ranking
  return front_;
}

v1::Trial& SearchRun::AddTrial(const ga::Candidate& c) {
  v1::Trial& t = trials_[c.id];
  Counted(t);  // as TRIAL_STATE_UNSPECIFIED until it is queued or answered
  t.set_search_id(id());
  *t.mutable_genome() = GenomeProto(*space_, c);
  t.set_description(genome::DescribeGenome(*space_, c.genome));
  if (c.round.has_value()) {
    // A round of population-based training: its identity is its schedule, and its
    // curve begins with the points of the round it goes on from.
    t.set_member(c.round->member);
    t.set_start_epoch(c.round->start_epoch);
    t.set_stop_epoch(c.round->stop_epoch);
    auto found = trials_.find(c.parents[0]);
    const v1::Trial* from = found != trials_.end() ? &found->second : nullptr;
    const bool goes_on = from != nullptr && c.round->start_epoch > 0;
    t.mutable_genome()->set_hash(genome::ScheduleHash(goes_on ? from->genome().hash() : "",
                                                      t.genome().hash(), c.round->stop_epoch));
    t.set_schedule(Schedule(*space_, c, summary_.spec().task().epochs(), goes_on ? from : nullptr));
    if (goes_on) {
      for (const v1::EpochPoint& p : from->curve()) {
        if (p.epoch() <= c.round->start_epoch) *t.add_curve() = p;
      }
    }
  }
  t.set_seed(genome::TrialSeed(summary_.spec().seed(), t.genome().hash()));
  return t;
}

void SearchRun::SetState(v1::Trial& t, v1::TrialState state) {
  Uncounted(t);
  t.set_state(state);
  Counted(t);
}

int64_t SearchRun::best_genome_id() const {
  if (objectives_.has_value()) {
    const std::vector<int64_t>& ranked = ParetoRanking();
    return ranked.empty() ? 0 : ranked.front();
  }
  return ranking_.empty() ? 0 : ranking_.begin()->genome_id;
}

std::vector<const v1::Trial*> SearchRun::Best(size_t limit) const {
  std::vector<const v1::Trial*> out;
  if (objectives_.has_value()) {
    for (int64_t id : ParetoRanking()) {
      if (out.size() == limit) break;
      out.push_back(&trials_.at(id));
    }
    return out;
  }
  for (auto it = ranking_.begin(); it != ranking_.end() && out.size() < limit; ++it) {
    out.push_back(&trials_.at(it->genome_id));
  }
  return out;
}

std::vector<int64_t> SearchRun::Ranking() const {
  if (objectives_.has_value()) return ParetoRanking();
  std::vector<int64_t> out;
  out.reserve(ranking_.size());
  for (const genome::RankKey& key : ranking_) out.push_back(key.genome_id);
  return out;
}

const std::vector<int64_t>& SearchRun::ParetoRanking() const {
  if (!pareto_stale_) return pareto_ranking_;
  std::vector<genome::ParetoPoint> points;
  points.reserve(ranking_.size());
  for (const genome::RankKey& key : ranking_) {
    points.push_back(objectives_->Point(trials_.at(key.genome_id)));
  }
  pareto_ranking_.clear();
  std::vector<genome::ParetoRank> ranks;
  for (size_t i : genome::ParetoOrder(points, &ranks)) pareto_ranking_.push_back(points[i].id);
  // The front: trained fully, feasible, dominated by none. Its hypervolume in the box
  // between the worst and best value of such genomes in each objective.
  std::vector<std::vector<double>> front, feasible;
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].tier != 0 || points[i].violation != 0) continue;
    feasible.push_back(points[i].values);
    if (ranks[i].front == 0) front.push_back(points[i].values);
  }
  front_ = {static_cast<int64_t>(front.size()), 0};
  if (!feasible.empty()) {
    std::vector<double> low = feasible[0], high = feasible[0];
    for (const std::vector<double>& v : feasible) {
      for (size_t k = 0; k < v.size(); ++k) {
        low[k] = std::min(low[k], v[k]);
        high[k] = std::max(high[k], v[k]);
      }
    }
    for (std::vector<double>& v : front) {
      for (size_t k = 0; k < v.size(); ++k) {
        v[k] = high[k] > low[k] ? (v[k] - low[k]) / (high[k] - low[k]) : 1;
      }
    }
    front_.hypervolume = genome::Hypervolume(std::move(front), std::vector<double>(low.size(), 0));
  }
  pareto_stale_ = false;
  return pareto_ranking_;
}

bool SearchRun::OnFront(int64_t genome_id) const {
  if (!objectives_.has_value()) return false;
  const genome::ParetoPoint p = objectives_->Point(trials_.at(genome_id));
  if (p.tier != 0 || p.violation != 0) return false;
  for (const genome::RankKey& key : ranking_) {
    if (key.genome_id == genome_id) continue;
    const genome::ParetoPoint q = objectives_->Point(trials_.at(key.genome_id));
    if (q.tier == 0 && q.violation == 0 && genome::Dominates(q.values, p.values)) return false;
  }
  return true;
}

ga::EpochScore SearchRun::ScoreAt(int64_t genome_id, const v1::EpochPoint& p) const {
  ga::EpochScore score{p.val_accuracy(), std::nullopt};
  if (objectives_.has_value()) score.point = objectives_->AtEpoch(genome_id, p);
  return score;
}

ga::Fitness SearchRun::FitnessOf(const v1::Trial& t, bool ok, double accuracy, bool pruned) const {
  ga::Fitness fitness(ok, accuracy, pruned);
  // A round of population-based training that left its last epoch's state for the next.
  fitness.resumable = t.stop_epoch() == 0 || t.checkpoint_epoch() == t.stop_epoch();
  if (objectives_.has_value()) {
    genome::ParetoPoint point = objectives_->Point(t);
    fitness.objectives = std::move(point.values);
    fitness.violation = point.violation;
  }
  return fitness;
}

bool SearchRun::SetupFailed(const std::string& worker_id) {
  if (excluded_.contains(worker_id)) return false;
  if (++setup_failures_[worker_id] < kSetupFailuresToExclude) return false;
  excluded_.insert(worker_id);
  return true;
}

std::optional<int64_t> SearchRun::PopQueued() {
  if (queue_.empty()) return std::nullopt;
  const int64_t id = queue_.front();
  queue_.pop_front();
  return id;
}

void SearchRun::Counted(const v1::Trial& t) {
  ++count_[t.state()];
  if (auto key = genome::RankOf(t)) {
    ranking_.insert(*key);
    pareto_stale_ = true;
  }
  epochs_trained_ += genome::EpochsTrained(t);
  epochs_saved_ += genome::EpochsSaved(t, summary_.spec().task().epochs());
  preempted_ += t.lost();
  resumes_ += t.resumes();
  epochs_lost_ += t.epochs_lost();
}

void SearchRun::Uncounted(const v1::Trial& t) {
  --count_[t.state()];
  if (auto key = genome::RankOf(t)) {
    ranking_.erase(*key);
    pareto_stale_ = true;
  }
  epochs_trained_ -= genome::EpochsTrained(t);
  epochs_saved_ -= genome::EpochsSaved(t, summary_.spec().task().epochs());
  preempted_ -= t.lost();
  resumes_ -= t.resumes();
  epochs_lost_ -= t.epochs_lost();
}

void SearchRun::KeepCurveTo(v1::Trial& t, int epoch) {
  const int64_t id = t.genome().id();
  if (pruner_ != nullptr && t.curve_size() > 0) pruner_->Forget(id);
  auto* curve = t.mutable_curve();
  curve->erase(std::remove_if(curve->begin(), curve->end(),
                              [epoch](const v1::EpochPoint& p) { return p.epoch() > epoch; }),
               curve->end());
  if (pruner_ != nullptr) {
    for (const v1::EpochPoint& p : t.curve()) pruner_->Restore(id, p.epoch(), ScoreAt(id, p));
  }
}

}  // namespace deepevolve::master
