#include "master/ga/pruner.h"

#include <algorithm>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <functional>
#include <utility>

namespace deepevolve::ga {

// libstdc++'s order-statistic red-black tree (policy-based data structures), keyed by
// (value, key) so that equal values stay distinct.
struct RankedValues::Tree {
  __gnu_pbds::tree<std::pair<double, int64_t>, __gnu_pbds::null_type,
                   std::less<std::pair<double, int64_t>>, __gnu_pbds::rb_tree_tag,
                   __gnu_pbds::tree_order_statistics_node_update>
      t;
};

RankedValues::RankedValues() : tree_(std::make_unique<Tree>()) {}
RankedValues::~RankedValues() = default;
RankedValues::RankedValues(RankedValues&&) noexcept = default;
RankedValues& RankedValues::operator=(RankedValues&&) noexcept = default;

void RankedValues::Set(int64_t key, double value) {
  auto [it, inserted] = values_.try_emplace(key, value);
  if (!inserted) {
    tree_->t.erase({it->second, key});
    it->second = value;
  }
  tree_->t.insert({value, key});
}

void RankedValues::Erase(int64_t key) {
  auto it = values_.find(key);
  if (it == values_.end()) return;
  tree_->t.erase({it->second, key});
  values_.erase(it);
}

size_t RankedValues::size() const { return values_.size(); }

double RankedValues::Kth(size_t k) const { return tree_->t.find_by_order(k)->first; }

std::unique_ptr<Pruner> MakePruner(const v1::PrunerSpec& spec, int epochs,
                                   bool several_objectives) {
  switch (spec.kind_case()) {
    case v1::PrunerSpec::kMedian:
      return std::make_unique<MedianPruner>(epochs, spec.median().warmup_epochs(),
                                            spec.median().min_trials());
    case v1::PrunerSpec::kAsha:
      return std::make_unique<AshaPruner>(epochs, spec.asha().min_epochs(),
                                          spec.asha().reduction_factor(), several_objectives);
    case v1::PrunerSpec::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

bool MedianPruner::Record(int64_t id, int epoch, const EpochScore& score) {
  const double accuracy = score.accuracy;
  std::map<int, double>& curve = running_[id];
  curve[epoch] = accuracy;
  if (epoch >= epochs_ || epoch <= warmup_epochs_ || completed_ < min_trials_) return false;
  auto at = completed_at_.find(epoch);
  if (at == completed_at_.end() || at->second.size() == 0) return false;
  const RankedValues& values = at->second;
  // numpy.percentile(values, 50): the middle value, or halfway between the middle two.
  const size_t mid = values.size() / 2;
  double median = values.Kth(mid);
  if (values.size() % 2 == 0) median = (median + values.Kth(mid - 1)) / 2;
  double best = 0;
  for (const auto& [e, a] : curve) {
    if (e <= epoch) best = std::max(best, a);
  }
  return best < median;
}

void MedianPruner::Finished(int64_t id, bool completed) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  if (completed) {
    for (const auto& [epoch, accuracy] : it->second) completed_at_[epoch].Set(id, accuracy);
    ++completed_;
  }
  running_.erase(it);
}

std::vector<int> AshaRungs(int min_epochs, int reduction_factor, int epochs) {
  std::vector<int> rungs;
  for (int64_t r = std::max(1, min_epochs); r < epochs; r *= std::max(2, reduction_factor)) {
    rungs.push_back(static_cast<int>(r));
  }
  return rungs;
}

AshaPruner::AshaPruner(int epochs, int min_epochs, int reduction_factor, bool several_objectives)
    : reduction_factor_(std::max(2, reduction_factor)),
      several_objectives_(several_objectives),
      rungs_(AshaRungs(min_epochs, reduction_factor, epochs)),
      at_rung_(rungs_.size()),
      points_at_rung_(rungs_.size()) {}

int AshaPruner::RungOf(int epoch) const {
  auto rung = std::find(rungs_.begin(), rungs_.end(), epoch);
  return rung == rungs_.end() ? -1 : static_cast<int>(rung - rungs_.begin());
}

bool AshaPruner::Keep(int rung, int64_t id, const EpochScore& score) {
  if (rung < 0) return false;
  if (!several_objectives_) {
    at_rung_[rung].Set(id, score.accuracy);
    return true;
  }
  if (!score.point.has_value()) {
    // Not judged here, nor counted; a point it had here before is gone with the curve.
    points_at_rung_[rung].erase(id);
    return false;
  }
  genome::ParetoPoint& kept = points_at_rung_[rung][id] = *score.point;
  kept.tier = 0;
  kept.id = id;  // ties to the older trial
  return true;
}

void AshaPruner::Restore(int64_t id, int epoch, const EpochScore& score) {
  Keep(RungOf(epoch), id, score);
}

bool AshaPruner::Record(int64_t id, int epoch, const EpochScore& score) {
  const int rung = RungOf(epoch);
  if (!Keep(rung, id, score)) return false;
  if (!several_objectives_) {
    const RankedValues& recorded = at_rung_[rung];
    // The promoted-th best is the (n - promoted)-th smallest.
    const size_t promoted = std::max<size_t>(1, recorded.size() / reduction_factor_);
    return score.accuracy < recorded.Kth(recorded.size() - promoted);
  }
  const auto& recorded = points_at_rung_[rung];
  const size_t promoted = std::max<size_t>(1, recorded.size() / reduction_factor_);
  std::vector<genome::ParetoPoint> points;
  points.reserve(recorded.size());
  for (const auto& [trial, point] : recorded) points.push_back(point);
  const std::vector<size_t> order = genome::ParetoOrder(points);
  for (size_t place = 0; place < promoted; ++place) {
    if (points[order[place]].id == id) return false;
  }
  return true;
}

void AshaPruner::Forget(int64_t id) {
  for (RankedValues& recorded : at_rung_) recorded.Erase(id);
  for (auto& recorded : points_at_rung_) recorded.erase(id);
}

}  // namespace deepevolve::ga
