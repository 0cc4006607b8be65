// A model of a search's results for screening candidates: TPE's density ratio.
#ifndef DEEPEVOLVE_MASTER_GA_DENSITY_RATIO_H_
#define DEEPEVOLVE_MASTER_GA_DENSITY_RATIO_H_

#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "genome/genome.h"
#include "genome/pareto.h"
#include "genome/space.h"

namespace deepevolve::ga {

// The results a model learns from: each genome with its rank (Fitness::rank(): higher
// is better; failures and pruned genomes rank below every genome that trained fully),
// kept in rank order as they arrive, so that a fit costs the same at 60 000 results as
// at 100 (audit F10).
//
// A search with several objectives or constraints adds each genome with its point
// instead (genome/pareto.h), and its results are ordered at each fit by NSGA-II's
// ranking — fronts, then crowding distance — as MOTPE splits good from rest by
// non-dominated rank (Optuna breaks the last front's tie by hypervolume contribution,
// this by crowding). A fit peels only the fronts the good group needs
// (genome::FirstInParetoOrder). A search adds one kind only.
class RankedResults {
 public:
  void Add(const genome::Genome& genome, double rank);
  void Add(const genome::Genome& genome, genome::ParetoPoint point);
  int size() const { return static_cast<int>(genomes_.size()); }
  // Something to tell apart: two results of different ranks (or points). What Fit needs.
  bool Informative() const;

 private:
  friend class DensityRatio;
  // The indices of the best `count` results, best first.
  std::vector<int> Best(int count) const;

  std::vector<genome::Genome> genomes_;      // in the order they were reported
  std::set<std::pair<double, int>> order_;   // (-rank, index): best first, ties to the earlier
  std::vector<genome::ParetoPoint> points_;  // with several objectives: each result's point
  bool points_differ_ = false;               // two of points_ differ
};

// Splits the results into the good ones — the best min(ceil(n / 10), 25) of n by rank
// (or by Pareto order), as Optuna's TPE — and the rest, and estimates each group's density over the
// space with a multivariate Parzen estimator: a mixture with one component per genome and a uniform
// one (the prior, of the weight of one genome). A component is a product over the genes of a kernel
// around the genome's value: on an unordered gene the value itself with weight 1 and every value
// with 1/K; on an ordered numeric gene a discrete Gaussian one value wide, mixed with the same
// uniform 1/K. A gene inactive in the component's genome is uniform; one inactive in the scored
// genome is left out.
//
// Score(x) = log l(x) - log g(x), the good density over the rest's: TPE's criterion,
// which orders candidates as expected improvement does. Genomes being evaluated count
// among the rest (Optuna's constant liar), so a candidate near one already handed out
// scores lower and parallel workers get different genomes.
class DensityRatio {
 public:
  // The rest keeps at most this many results (the most recent) besides the pending:
  // what bounds the cost of a score at thousands of results.
  static constexpr int kMaxRest = 1000;

  // The kernels' log tables of a space: for gene g, [g][c * K + v] is log k(v | centre
  // c), and row K (c == K) the uniform kernel, for a centre inactive there. They depend
  // on the space alone: a strategy builds them once (at 32 genes of 256 values they
  // are 2 M logs and exps, 16 MB) and gives them to every Fit.
  using Kernels = std::vector<std::vector<double>>;
  static std::shared_ptr<const Kernels> MakeKernels(const genome::SearchSpace& space);

  // nullopt when there is nothing to tell apart: fewer than two results, or all of
  // the same rank. `kernels`: MakeKernels(space), made here when null. Costs the good
  // group and kMaxRest, whatever the number of results.
  static std::optional<DensityRatio> Fit(const genome::SearchSpace& space,
                                         const RankedResults& results,
                                         const std::vector<const genome::Genome*>& pending,
                                         std::shared_ptr<const Kernels> kernels = nullptr);

  double Score(const genome::Genome& genome) const;

  // A genome drawn from the good density: a component chosen by weight, each gene from
  // its kernel; canonical.
  genome::Genome SampleGood(absl::BitGenRef rng) const;

  // Counts `genome` among the rest from now on (it was handed out).
  void AddPending(const genome::Genome& genome);

  int good_count() const { return static_cast<int>(good_.size() / genes_); }
  int rest_count() const { return static_cast<int>(rest_.size() / genes_); }

 private:
  DensityRatio(const genome::SearchSpace& space, std::shared_ptr<const Kernels> kernels);

  // The values of `genome`, -1 where a gene is inactive.
  std::vector<int> Values(const genome::Genome& genome) const;
  // log of the group's density at `values`.
  double LogDensity(const std::vector<int>& group, const std::vector<int>& values) const;

  const genome::SearchSpace* space_;
  int genes_;
  std::shared_ptr<const Kernels> kernels_;
  const Kernels* log_kernel_;     // kernels_.get()
  std::vector<int> good_, rest_;  // genes_ values per genome, flattened
};

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_DENSITY_RATIO_H_
