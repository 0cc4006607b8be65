// Aging ("regularized") evolution: steady-state, no generation barrier.
#ifndef DEEPEVOLVE_MASTER_GA_STEADY_STATE_H_
#define DEEPEVOLVE_MASTER_GA_STEADY_STATE_H_

#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "master/ga/operators.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

struct SteadyStateOptions {
  int population = 30;
  int tournament_size = 5;
  int trials = 240;
  double mutate_chance = 0.3;
  // How a mutation picks the new value (operators.h).
  MutationStyle mutation = MutationStyle::kNear;
  // The first genomes, before any random draw (SearchSpec.warm_start).
  std::vector<genome::Genome> first;
};

// The first `population` genomes are distinct random draws. After that, whenever a
// worker is free, each parent is the best of `tournament_size` members sampled
// uniformly (with replacement) from the trained population; the first child of their
// single-point crossover, mutated with mutate_chance and made novel, is handed out.
// When its result arrives it joins the population and the oldest member leaves, so the
// population never exceeds `population` and no worker waits for a generation.
// Aging evolution's selection: the best-ranked of `size` members drawn uniformly, with
// replacement, from a non-empty `population` whose members all have a result. With
// `positions` (ParetoPositions of the population), the best is the one placed first;
// without, the one of the highest Fitness::rank(), ties to the first drawn.
const Candidate& TournamentWinner(const std::deque<Member>& population, int size,
                                  absl::BitGenRef rng, const std::vector<int>* positions = nullptr);

// A child of two tournament winners of `population` (at least one member): their
// crossover, then a mutation with probability `mutate_chance`. Sets its genome and
// parents; the caller makes it novel and numbers it.
Candidate TournamentChild(const genome::SearchSpace& space, const std::deque<Member>& population,
                          int tournament_size, double mutate_chance, MutationStyle mutation,
                          absl::BitGenRef rng, const std::vector<int>* positions = nullptr);

class SteadyStateStrategy : public Strategy {
 public:
  SteadyStateStrategy(genome::SearchSpace space, SteadyStateOptions options);

  absl::StatusOr<std::vector<Candidate>> Next(int max_count, absl::BitGenRef rng) override;
  absl::Status Report(int64_t id, const Fitness& fitness) override;
  bool Done() const override { return reported_ >= planned_; }
  int generation() const override;
  int64_t PlannedTrials() const override { return planned_; }
  std::vector<Member> Population() const override;

 private:
  const genome::SearchSpace space_;
  const SteadyStateOptions options_;
  const int64_t planned_;
  int64_t next_id_ = 1;
  int64_t reported_ = 0;
  std::deque<Member> population_;                    // oldest first, all trained
  absl::flat_hash_map<int64_t, Candidate> pending_;  // handed out, no result yet
  GenomeSet seen_;
};

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_STEADY_STATE_H_
