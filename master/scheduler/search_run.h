// One search as the master runs it: its summary, space and strategy, its trials and
// queue, and the counts and best trial its summary shows.
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_SEARCH_RUN_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_SEARCH_RUN_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "deepevolve/v1/service.pb.h"
#include "genome/pareto.h"
#include "genome/space.h"
#include "genome/trial_rank.h"
#include "master/ga/pruner.h"
#include "master/ga/strategy.h"
#include "master/store/store.h"

namespace deepevolve::master {

// The epoch a trial's next training goes on after: its own checkpoint's, else (a round
// of population-based training) the one it goes on from; 0: the first epoch.
inline int ResumeEpoch(const v1::Trial& t) {
  return t.checkpoint_epoch() > 0 ? t.checkpoint_epoch() : t.start_epoch();
}
// The trial whose checkpoint that is: `t` itself, or the round it goes on from.
inline int64_t ResumeOwner(const v1::Trial& t) {
  return t.checkpoint_epoch() > 0 ? t.genome().id() : t.genome().parents(0);
}

// In memory only; the master writes what changes to the store. State is rebuilt, not
// serialised: Create from the stored summary, LoadTrials, then Replay the strategy log.
//
// Thread-compatible: the master serialises access.
class SearchRun {
 public:
  // INVALID_ARGUMENT when the summary's space or strategy is not valid.
  static absl::StatusOr<std::unique_ptr<SearchRun>> Create(const v1::SearchSummary& summary);

  // Takes the search's stored trials (at recovery).
  void LoadTrials(std::vector<v1::Trial> trials);
  // Replays the strategy's logged operations. DATA_LOSS, naming the search and the
  // operation, when the strategy does not hand out the genome the log says it did.
  absl::Status Replay(const std::vector<store::StrategyOp>& ops);

  int64_t id() const { return summary_.search_id(); }
  void set_id(int64_t id) { summary_.set_search_id(id); }
  bool running() const { return summary_.state() == v1::RUNNING; }
  // Generational searches hand out a generation whole, population-based training a
  // round; the others breed on demand.
  bool generational() const {
    return summary_.spec().has_generational() || summary_.spec().has_pbt();
  }
  const v1::SearchSpec& spec() const { return summary_.spec(); }
  // Runs the search on trainer `pinned` (a version of the bare name it was submitted
  // on) from now on: its task, and so its ledger key. Only before any genome of it was
  // trained or answered from the ledger; FAILED_PRECONDITION after.
  absl::Status PinTrainer(const std::string& pinned);
  // The persisted part: id, name, spec, state, times, error.
  const v1::SearchSummary& stored_summary() const { return summary_; }
  // Ends the search in `state` at now_ms, with `error` for a failed one. Every queued
  // trial is ABANDONED; returns them, for the caller to store.
  std::vector<v1::Trial*> End(v1::SearchState state, int64_t now_ms, const std::string& error);
  // The summary with its counts, generation and best trial.
  v1::SearchSummary Summarize() const;

  ga::Strategy& strategy() { return *strategy_; }
  // The search's pruner, nullptr when it has none. Rebuilt from the trials' stored
  // curves by LoadTrials.
  ga::Pruner* pruner() { return pruner_.get(); }
  std::mt19937_64& rng() { return rng_; }
  const genome::SearchSpace& space() const { return *space_; }
  const std::string& task_hash() const { return task_hash_; }
  // The sequence number for the next logged strategy operation.
  int64_t NextOpSeq() { return ++op_seq_; }
  // Generations whose GENERATION_DONE event was written.
  int generation_emitted = 0;
  // The sequence of this search's last event.
  int64_t last_event = 0;

  // A new trial for a candidate the strategy handed out (not yet in any state).
  v1::Trial& AddTrial(const ga::Candidate& candidate);
  // The trial of `genome_id`, which must exist.
  v1::Trial& trial(int64_t genome_id) { return trials_.at(genome_id); }
  const std::map<int64_t, v1::Trial>& trials() const { return trials_; }
  // Moves `t` to `state`, keeping the counts, ranking and epoch totals. A trial's
  // accuracy, error and epochs_run change only outside a state that counts them: set
  // them before moving it into DONE, CACHED, TRIAL_FAILED or PRUNED.
  void SetState(v1::Trial& t, v1::TrialState state);
  // Applies `change` to `t`, keeping the counts: for what the summary adds up of trials
  // in any state (leases lost, resumes, epochs lost).
  template <typename F>
  void Change(v1::Trial& t, F change) {
    Uncounted(t);
    change(t);
    Counted(t);
  }
  // Keeps the points of `t`'s curve up to `epoch` (0: none) and shows the pruner only
  // those: what a resumed training, or one begun again, goes on from.
  void KeepCurveTo(v1::Trial& t, int epoch);
  // The successful trial ranked first, 0 for none. Ranked by accuracy
  // (genome/trial_rank.h), or with several objectives or constraints by Pareto front
  // (genome/pareto.h).
  int64_t best_genome_id() const;
  // The first `limit` successful trials in rank order: what a leaderboard shows, at a
  // cost of `limit` whatever the search's size (by accuracy; a search of several
  // objectives ranks all its results when one has changed since it last did).
  std::vector<const v1::Trial*> Best(size_t limit) const;
  // Every successful trial's genome id in rank order (a finished search's stored ranking).
  std::vector<int64_t> Ranking() const;
  // What the strategy is told of a finished trial: its accuracy, and with several
  // objectives or constraints their values and violation.
  ga::Fitness FitnessOf(const v1::Trial& t, bool ok, double accuracy, bool pruned) const;
  // With several objectives: whether trial `genome_id` trained fully, keeps every
  // constraint, and no other such trial dominates it (front 0). O(trials).
  bool OnFront(int64_t genome_id) const;
  // Whether the search ranks by several objectives or constraints (ga::IsMultiObjective).
  bool several_objectives() const { return objectives_.has_value(); }
  // What the pruner is shown of trial `genome_id` after an epoch of its curve: its
  // accuracy, and with several objectives its point then.
  ga::EpochScore ScoreAt(int64_t genome_id, const v1::EpochPoint& p) const;
  // Trials now held by workers.
  int64_t leased() const { return count_[v1::LEASED]; }

  // The queue of genomes waiting for a worker. Requeued genomes go to the front.
  void Enqueue(int64_t genome_id) { queue_.push_back(genome_id); }
  void EnqueueFront(int64_t genome_id) { queue_.push_front(genome_id); }
  std::optional<int64_t> PopQueued();
  size_t queued() const { return queue_.size(); }

  // Set-up failures (the worker or the task failed, not the genome). A worker whose
  // last kSetupFailuresToExclude trials of this search all failed so gets none of its
  // genomes any more (in memory: a restarted master tries it again). True when this
  // failure excluded the worker.
  static constexpr int kSetupFailuresToExclude = 3;
  bool SetupFailed(const std::string& worker_id);
  // A trial of this search ran on the worker (with or without a result).
  void SetupWorked(const std::string& worker_id) { setup_failures_.erase(worker_id); }
  bool Excludes(const std::string& worker_id) const { return excluded_.contains(worker_id); }

 private:
  SearchRun() = default;
  // Counts a trial in its state (a new trial, or one loaded from the store), and
  // takes it out of its state's counts.
  void Counted(const v1::Trial& t);
  void Uncounted(const v1::Trial& t);

  v1::SearchSummary summary_;
  std::optional<genome::SearchSpace> space_;
  std::unique_ptr<ga::Strategy> strategy_;
  std::unique_ptr<ga::Pruner> pruner_;
  std::mt19937_64 rng_;
  std::string task_hash_;
  int64_t op_seq_ = 0;
  std::map<int64_t, v1::Trial> trials_;  // by genome id
  std::deque<int64_t> queue_;            // queued genome ids
  // Kept as trials change state, so that a summary costs the same at any size.
  std::array<int64_t, v1::TrialState_ARRAYSIZE> count_{};
  // Epochs trained by finished trials, and left untrained by pruned ones.
  int64_t epochs_trained_ = 0;
  int64_t epochs_saved_ = 0;
  // Leases lost, resumes from checkpoints, and epochs lost, over every trial.
  int64_t preempted_ = 0;
  int64_t resumes_ = 0;
  int64_t epochs_lost_ = 0;
  // The successful trials in rank order (genome::RankOf). An entry is made when a trial
  // enters DONE, CACHED or PRUNED, whose accuracy is then final.
  std::set<genome::RankKey> ranking_;
  // A search of several objectives or constraints: them, and its successful trials in
  // Pareto order, computed again when a result has come or gone since.
  std::optional<genome::Objectives> objectives_;
  const std::vector<int64_t>& ParetoRanking() const;
  struct FrontStats {
    int64_t size = 0;
    double hypervolume = 0;
  };
  // With objectives_: the front's size and hypervolume (SearchSummary), kept with the
  // ranking.
  const FrontStats& Front() const;
  mutable FrontStats front_;
  mutable std::vector<int64_t> pareto_ranking_;
  mutable bool pareto_stale_ = true;
  absl::flat_hash_map<std::string, int> setup_failures_;  // in a row, by worker
  absl::flat_hash_set<std::string> excluded_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_SEARCH_RUN_H_
