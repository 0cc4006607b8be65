// Pruners: whether a genome that has trained some of its epochs should stop there.
//
// A pruner sees each trial's validation accuracy after each epoch and answers at once;
// what it knows is a function of the curves it was shown (and which trials completed),
// so a master that restarts rebuilds it by showing it the stored curves again.
// Pure: no clock, no I/O. Thread-compatible: callers serialise access.
#ifndef DEEPEVOLVE_MASTER_GA_PRUNER_H_
#define DEEPEVOLVE_MASTER_GA_PRUNER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/pareto.h"

namespace deepevolve::ga {

// A trial's standing after an epoch.
struct EpochScore {
  double accuracy = 0;  // validation accuracy
  // In a search of several objectives or constraints: the trial's point after the
  // epoch (genome::Objectives::AtEpoch); nullopt while one of its objectives is not
  // known, and then the trial is not judged at that epoch.
  std::optional<genome::ParetoPoint> point;
};

class Pruner {
 public:
  virtual ~Pruner() = default;

  // Records trial `id`'s standing after `epoch` (1-based) and says whether the trial
  // should stop there. A point recorded again (a retried heartbeat, a genome trained
  // again after its worker was lost) replaces the earlier one. Never true at the task's
  // last epoch, after which the trial ends anyway.
  virtual bool Record(int64_t id, int epoch, const EpochScore& score) = 0;
  bool Record(int64_t id, int epoch, double accuracy) {
    return Record(id, epoch, EpochScore{accuracy, std::nullopt});
  }

  // What Record learns, without deciding: to rebuild the pruner after a restart,
  // whose decisions are stored already. Cheaper than Record where a decision is dear.
  virtual void Restore(int64_t id, int epoch, const EpochScore& score) { Record(id, epoch, score); }

  // Trial `id` ended: `completed` when it trained to its end (all epochs, or stopped by
  // its own early stopping), false when it was pruned, failed or abandoned.
  virtual void Finished(int64_t id, bool completed) = 0;

  // Trial `id`'s attempt was abandoned (its worker was lost) and it starts again from
  // epoch 1: its points so far are dropped, as its stored curve is, so that what the
  // pruner knows stays a function of the stored curves.
  virtual void Forget(int64_t id) = 0;
};

// Values with their order: insert, erase and the k-th smallest in O(log n), so that a
// decision at a rung of n trials, and the rebuild after a restart, do not cost O(n)
// each (a copy and a selection per decision was O(n^2) to rebuild).
class RankedValues {
 public:
  RankedValues();
  ~RankedValues();
  RankedValues(RankedValues&&) noexcept;
  RankedValues& operator=(RankedValues&&) noexcept;

  // Adds `value` as the value of `key` (unique per key; replaces an earlier one).
  void Set(int64_t key, double value);
  void Erase(int64_t key);
  size_t size() const;
  // The k-th smallest value (0-based), k < size().
  double Kth(size_t k) const;

 private:
  struct Tree;
  std::unique_ptr<Tree> tree_;
  absl::flat_hash_map<int64_t, double> values_;
};

// The pruner `spec` (resolved: defaults filled, see spec.h) asks for, for a task of
// `epochs` epochs, judging by `several_objectives` (EpochScore::point) or by accuracy;
// nullptr when it asks for none.
std::unique_ptr<Pruner> MakePruner(const v1::PrunerSpec& spec, int epochs,
                                   bool several_objectives = false);

// Optuna's MedianPruner: after `warmup_epochs`, once `min_trials` trials completed, a
// trial stops when its best accuracy so far is below the median of the completed
// trials' accuracies at the same epoch (linear interpolation between the middle two,
// as numpy's percentile).
class MedianPruner : public Pruner {
 public:
  MedianPruner(int epochs, int warmup_epochs, int min_trials)
      : epochs_(epochs), warmup_epochs_(warmup_epochs), min_trials_(min_trials) {}
  using Pruner::Record;
  bool Record(int64_t id, int epoch, const EpochScore& score) override;
  void Finished(int64_t id, bool completed) override;
  void Forget(int64_t id) override { running_.erase(id); }

 private:
  const int epochs_, warmup_epochs_, min_trials_;
  absl::flat_hash_map<int64_t, std::map<int, double>> running_;  // curves of live trials
  std::map<int, RankedValues> completed_at_;  // by epoch: the completed trials' accuracies
  int completed_ = 0;
};

// The rungs of asynchronous successive halving: min_epochs * reduction_factor^k, each
// below `epochs`.
std::vector<int> AshaRungs(int min_epochs, int reduction_factor, int epochs);

// Asynchronous successive halving, as Optuna's SuccessiveHalvingPruner decides it: at a
// rung, of the n accuracies recorded there (this trial's included, from trials in any
// state), a trial goes on when its own is at least the (n / reduction_factor)-th best
// (the best while n < reduction_factor); otherwise it stops. Between rungs it goes on.
//
// With `several_objectives`, multi-objective ASHA (Schmucker et al. 2021, Syne Tune's
// MOASHA): the same rule over the trials' points at the rung in NSGA-II's order
// (genome/pareto.h: feasible first, then front, then crowding distance, then the
// older trial) instead of their accuracies. A point is the objectives' values after
// that epoch (EpochScore::point); a trial whose point is not known there goes on
// unjudged and is not counted. A decision orders the rung's points: O(n log n) for
// two objectives at n points (bench/README.md, "Several objectives").
class AshaPruner : public Pruner {
 public:
  AshaPruner(int epochs, int min_epochs, int reduction_factor, bool several_objectives = false);
  using Pruner::Record;
  bool Record(int64_t id, int epoch, const EpochScore& score) override;
  void Restore(int64_t id, int epoch, const EpochScore& score) override;
  void Finished(int64_t, bool) override {}
  void Forget(int64_t id) override;

  const std::vector<int>& rungs() const { return rungs_; }

 private:
  // The rung `epoch` is, or -1; what the rung keeps of `score` (false: nothing).
  int RungOf(int epoch) const;
  bool Keep(int rung, int64_t id, const EpochScore& score);

  const int reduction_factor_;
  const bool several_objectives_;
  std::vector<int> rungs_;
  std::vector<RankedValues> at_rung_;  // per rung: trial -> accuracy
  // With several objectives, per rung: trial -> its point there.
  std::vector<absl::flat_hash_map<int64_t, genome::ParetoPoint>> points_at_rung_;
};

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_PRUNER_H_
