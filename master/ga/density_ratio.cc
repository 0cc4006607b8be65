#include "master/ga/density_ratio.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/random/distributions.h"
#include "master/ga/operators.h"

namespace deepevolve::ga {
namespace {

// Optuna's TPE: the good group is the best ceil(n / 10), at most 25.
int GoodCount(int n) { return std::min((n + 9) / 10, 25); }

// The uniform component's weight, in genomes (Optuna's prior_weight).
constexpr double kPriorWeight = 1.0;

}  // namespace

std::shared_ptr<const DensityRatio::Kernels> DensityRatio::MakeKernels(
    const genome::SearchSpace& space) {
  auto kernels = std::make_shared<Kernels>(space.num_genes());
  for (int g = 0; g < space.num_genes(); ++g) {
    const int k = space.num_values(g);
    const bool ordered = IsOrderedNumeric(space, g);
    std::vector<double>& table = (*kernels)[g];
    table.assign(static_cast<size_t>(k + 1) * k, 0.0);
    for (int c = 0; c < k; ++c) {
      std::vector<double> mass(k);
      for (int v = 0; v < k; ++v) {
        const double d = v - c;
        mass[v] = ordered ? std::exp(-0.5 * d * d) : (v == c ? 1.0 : 0.0);
      }
      const double total = std::accumulate(mass.begin(), mass.end(), 0.0);
      for (int v = 0; v < k; ++v) {
        // The kernel mixed with the uniform, as Optuna's categorical Parzen estimator.
        table[c * k + v] = std::log((mass[v] / total + kPriorWeight / k) / (1 + kPriorWeight));
      }
    }
    for (int v = 0; v < k; ++v) table[k * k + v] = -std::log(static_cast<double>(k));
  }
  return kernels;
}

DensityRatio::DensityRatio(const genome::SearchSpace& space, std::shared_ptr<const Kernels> kernels)
    : space_(&space),
      genes_(space.num_genes()),
      kernels_(std::move(kernels)),
      log_kernel_(kernels_.get()) {}

std::vector<int> DensityRatio::Values(const genome::Genome& genome) const {
  std::vector<int> values(genome.choice);
  for (int g = 0; g < genes_; ++g) {
    if (!genome::IsActive(*space_, genome, g)) values[g] = -1;
  }
  return values;
}

void RankedResults::Add(const genome::Genome& genome, double rank) {
  order_.emplace(-rank, static_cast<int>(genomes_.size()));
  genomes_.push_back(genome);
}

void RankedResults::Add(const genome::Genome& genome, genome::ParetoPoint point) {
  point.id = static_cast<int64_t>(genomes_.size());  // ties to the earlier result
  if (!points_.empty()) {
    const genome::ParetoPoint& first = points_.front();
    points_differ_ = points_differ_ || point.tier != first.tier ||
                     point.violation != first.violation || point.values != first.values;
  }
  points_.push_back(std::move(point));
  genomes_.push_back(genome);
}

bool RankedResults::Informative() const {
  if (!points_.empty()) return points_differ_;
  return !order_.empty() && order_.begin()->first < order_.rbegin()->first;
}

std::vector<int> RankedResults::Best(int count) const {
  std::vector<int> best;
  if (!points_.empty()) {
    for (size_t i : genome::FirstInParetoOrder(points_, static_cast<size_t>(count))) {
      best.push_back(static_cast<int>(i));
    }
    return best;
  }
  for (auto it = order_.begin(); it != order_.end() && static_cast<int>(best.size()) < count;
       ++it) {
    best.push_back(it->second);
  }
  return best;
}

std::optional<DensityRatio> DensityRatio::Fit(const genome::SearchSpace& space,
                                              const RankedResults& results,
                                              const std::vector<const genome::Genome*>& pending,
                                              std::shared_ptr<const Kernels> kernels) {
  if (!results.Informative()) return std::nullopt;
  const int n = results.size();
  DensityRatio model(space, kernels != nullptr ? std::move(kernels) : MakeKernels(space));
  absl::flat_hash_set<int> good;
  for (int i : results.Best(GoodCount(n))) {
    good.insert(i);
    const std::vector<int> v = model.Values(results.genomes_[i]);
    model.good_.insert(model.good_.end(), v.begin(), v.end());
  }
  // The rest, most recent first, at most kMaxRest.
  int rest = 0;
  for (int i = n - 1; i >= 0 && rest < kMaxRest; --i) {
    if (good.contains(i)) continue;
    const std::vector<int> v = model.Values(results.genomes_[i]);
    model.rest_.insert(model.rest_.end(), v.begin(), v.end());
    ++rest;
  }
  for (const genome::Genome* p : pending) model.AddPending(*p);
  return model;
}

void DensityRatio::AddPending(const genome::Genome& genome) {
  const std::vector<int> v = Values(genome);
  rest_.insert(rest_.end(), v.begin(), v.end());
}

double DensityRatio::LogDensity(const std::vector<int>& group,
                                const std::vector<int>& values) const {
  const int components = static_cast<int>(group.size()) / genes_;
  // log of each component at `values`; the prior (uniform) first.
  std::vector<double> logs;
  logs.reserve(components + 1);
  double prior = 0;
  for (int g = 0; g < genes_; ++g) {
    if (values[g] >= 0) prior -= std::log(static_cast<double>(space_->num_values(g)));
  }
  logs.push_back(std::log(kPriorWeight) + prior);
  for (int c = 0; c < components; ++c) {
    const int* centre = &group[static_cast<size_t>(c) * genes_];
    double sum = 0;
    for (int g = 0; g < genes_; ++g) {
      if (values[g] < 0) continue;
      const int k = space_->num_values(g);
      const int row = centre[g] < 0 ? k : centre[g];
      sum += (*log_kernel_)[g][row * k + values[g]];
    }
    logs.push_back(sum);
  }
  const double top = *std::max_element(logs.begin(), logs.end());
  double total = 0;
  for (double l : logs) total += std::exp(l - top);
  return top + std::log(total) - std::log(components + kPriorWeight);
}

double DensityRatio::Score(const genome::Genome& genome) const {
  const std::vector<int> values = Values(genome);
  return LogDensity(good_, values) - LogDensity(rest_, values);
}

genome::Genome DensityRatio::SampleGood(absl::BitGenRef rng) const {
  const int components = good_count();
  const double pick = absl::Uniform<double>(rng, 0, components + kPriorWeight);
  const int c = static_cast<int>(pick);  // == components: the prior
  genome::Genome out;
  out.choice.resize(genes_);
  for (int g = 0; g < genes_; ++g) {
    const int k = space_->num_values(g);
    const int centre = c < components ? good_[static_cast<size_t>(c) * genes_ + g] : -1;
    const int row = centre < 0 ? k : centre;
    double u = absl::Uniform<double>(rng, 0, 1);
    int v = 0;
    for (; v < k - 1; ++v) {
      u -= std::exp((*log_kernel_)[g][row * k + v]);
      if (u < 0) break;
    }
    out.choice[g] = v;
  }
  return genome::Canonical(*space_, std::move(out));
}

}  // namespace deepevolve::ga
