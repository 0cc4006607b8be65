#include "master/ga/pruner.h"

#include <algorithm>
#include <functional>

namespace deepevolve::ga {

std::unique_ptr<Pruner> MakePruner(const v1::PrunerSpec& spec, int epochs) {
  switch (spec.kind_case()) {
    case v1::PrunerSpec::kMedian:
      return std::make_unique<MedianPruner>(epochs, spec.median().warmup_epochs(),
                                            spec.median().min_trials());
    case v1::PrunerSpec::kAsha:
      return std::make_unique<AshaPruner>(epochs, spec.asha().min_epochs(),
                                          spec.asha().reduction_factor());
    case v1::PrunerSpec::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

bool MedianPruner::Record(int64_t id, int epoch, double accuracy) {
  std::map<int, double>& curve = running_[id];
  curve[epoch] = accuracy;
  if (epoch >= epochs_ || epoch <= warmup_epochs_ || completed_ < min_trials_) return false;
  auto at = completed_at_.find(epoch);
  if (at == completed_at_.end() || at->second.empty()) return false;
  std::vector<double> values = at->second;
  // numpy.percentile(values, 50): the middle value, or halfway between the middle two.
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  double median = values[mid];
  if (values.size() % 2 == 0) {
    median = (median + *std::max_element(values.begin(), values.begin() + mid)) / 2;
  }
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
    for (const auto& [epoch, accuracy] : it->second) completed_at_[epoch].push_back(accuracy);
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

AshaPruner::AshaPruner(int epochs, int min_epochs, int reduction_factor)
    : reduction_factor_(std::max(2, reduction_factor)),
      rungs_(AshaRungs(min_epochs, reduction_factor, epochs)),
      at_rung_(rungs_.size()) {}

bool AshaPruner::Record(int64_t id, int epoch, double accuracy) {
  auto rung = std::find(rungs_.begin(), rungs_.end(), epoch);
  if (rung == rungs_.end()) return false;
  absl::flat_hash_map<int64_t, double>& recorded = at_rung_[rung - rungs_.begin()];
  recorded[id] = accuracy;
  std::vector<double> values;
  values.reserve(recorded.size());
  for (const auto& [trial, a] : recorded) values.push_back(a);
  const size_t promoted = std::max<size_t>(1, values.size() / reduction_factor_);
  std::nth_element(values.begin(), values.begin() + (promoted - 1), values.end(),
                   std::greater<double>());
  return accuracy < values[promoted - 1];
}

}  // namespace deepevolve::ga
