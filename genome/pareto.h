// The ranking of a search with several objectives or with constraints: NSGA-II's
// non-dominated sorting and crowding distance, with Deb's constraint handling. What
// genome/trial_rank.h is for accuracy alone, this is for a search's objectives (a spec's
// `objectives` and `constraints`); a search without them never comes here.
//
// The order, first to last: trials that trained fully before those a pruner stopped
// (tier); within a tier, feasible trials (every constraint kept) before infeasible ones,
// which go by total violation, the smaller first; feasible ones by non-dominated front
// (0: dominated by none), then crowding distance (the larger first: a front's extremes
// have infinite distance), then the first objective, then the older genome.
#ifndef DEEPEVOLVE_GENOME_PARETO_H_
#define DEEPEVOLVE_GENOME_PARETO_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "deepevolve/v1/search.pb.h"
#include "deepevolve/v1/service.pb.h"

namespace deepevolve::genome {

// One result as the ranking sees it.
struct ParetoPoint {
  int tier = 0;                // 0: trained fully; 1: pruned; 2: failed
  double violation = 0;        // 0: feasible; the total by which it misses its constraints
  std::vector<double> values;  // each objective, oriented so that larger is better
  int64_t id = 0;              // the genome id: the last tie-break
};

// Where a point stands: its front among the feasible points of its tier (-1 for an
// infeasible one) and its crowding distance on that front.
struct ParetoRank {
  int front = -1;
  double crowding = 0;
};

// Whether `a` is at least as good as `b` in every value and better in one.
bool Dominates(const std::vector<double>& a, const std::vector<double>& b);

// The non-dominated front of each point (0 first), all values maximized: efficient
// non-dominated sorting (sequential search, Zhang et al. 2015) in O(M N sqrt N) on
// typical fronts, O(N log N) for one objective.
std::vector<int> NonDominatedFronts(const std::vector<std::vector<double>>& values);

// NSGA-II's crowding distance of each point on its front (`fronts` as
// NonDominatedFronts gives): the sum over objectives of the normalised gap between its
// neighbours; a front's extremes in any objective, and fronts of one or two points,
// get infinity.
std::vector<double> CrowdingDistances(const std::vector<std::vector<double>>& values,
                                      const std::vector<int>& fronts);

// The indices of `points` in rank order (above); each point's rank into `*ranks` when
// it is not null.
std::vector<size_t> ParetoOrder(const std::vector<ParetoPoint>& points,
                                std::vector<ParetoRank>* ranks = nullptr);

// The first min(count, N) of ParetoOrder(points), the same indices in the same order,
// without sorting every point into its front: the best tier's feasible points are
// peeled a front at a time until `count` are in hand, and only those fronts are
// ordered. O(N F M) for F points in those fronts, against ParetoOrder's O(M N sqrt N):
// what a model that learns from the best few of thousands of results needs.
std::vector<size_t> FirstInParetoOrder(const std::vector<ParetoPoint>& points, size_t count);

// The hypervolume `values` dominate above `reference` (all values maximized): the
// measure of the region each point bounds with the reference point. Points not above
// the reference in every value add nothing. Exact, by slicing: O(N^(M-1) log N), for
// the fronts of simulations and benchmarks.
double Hypervolume(std::vector<std::vector<double>> values, const std::vector<double>& reference);

// A search's objectives and constraints (resolved: goals written out), turning trials
// into points.
class Objectives {
 public:
  explicit Objectives(const v1::SearchSpec& spec);

  // The point of a finished trial: its tier, its objectives' values oriented, and its
  // violation. A metric it did not report makes it infeasible by infinity (an
  // objective's as much as a constraint's), so it ranks after every trial that did.
  ParetoPoint Point(const v1::Trial& t) const;

  // The point of trial `id` after an epoch of its curve, for a pruner: its tier 0, the
  // objectives' values as they stood then (accuracy: the epoch's validation accuracy;
  // train_seconds: the seconds trained so far; the rest from the epoch's metrics), and
  // the violation of the constraints whose metric is known then. nullopt when an
  // objective is not known after the epoch (test_accuracy, or a metric the trainer
  // reports only at the end).
  std::optional<ParetoPoint> AtEpoch(int64_t id, const v1::EpochPoint& e) const;

  const std::vector<v1::Objective>& objectives() const { return objectives_; }

 private:
  std::vector<v1::Objective> objectives_;
  std::vector<v1::Constraint> constraints_;
};

// The front number of each trial of `ranked`, a prefix of a search's ranking (best
// first, as its leaderboard lists it): 1 for the first front among the trials of its
// tier (trained fully, or pruned), 2 for the next, and so on; 0 for a trial with no
// front (infeasible, or failed). Exact for every row of a prefix, since a trial's front
// depends only on trials of its tier ranked before it.
std::vector<int> FrontNumbers(const Objectives& objectives,
                              const std::vector<const v1::Trial*>& ranked);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_PARETO_H_
