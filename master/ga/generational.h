// DeepEvolve's generational GA.
#ifndef DEEPEVOLVE_MASTER_GA_GENERATIONAL_H_
#define DEEPEVOLVE_MASTER_GA_GENERATIONAL_H_

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "master/ga/operators.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

struct GenerationalOptions {
  int population = 30;
  int generations = 8;
  double retain = 0.15;
  double random_select = 0.1;
  double mutate_chance = 0.3;
  // Reproduce the original's accidents instead of fixing them (see README, "GA").
  bool deepevolve_compat = false;
  // How a mutation picks the new value (operators.h); kUniform under compat.
  MutationStyle mutation = MutationStyle::kNear;
  // The first genomes, before any random draw (SearchSpec.warm_start).
  std::vector<genome::Genome> first;
};

// Each generation is trained in full before the next is bred from it. The first
// generation is `population` distinct random genomes. Breeding (evolve):
//  - sort by fitness, descending, stably; the top floor(retain * N) are elites, kept
//    with their fitness and not retrained;
//  - each other member is kept with probability random_select ("lucky losers");
//  - the pool so far breeds: two distinct members drawn uniformly, single-point
//    crossover, each child mutated with mutate_chance, then made novel, until the
//    population is full again.
//
// Fixed by default (deepevolve_compat = false reproduces the original):
//  - parents are drawn from the whole pool (the original never picks its last member,
//    and raises when the pool has two members);
//  - the population stays at N (the original keeps both children of the last pair, so
//    it grows by one whenever an odd number of slots is left);
//  - lucky losers are kept as they are, with their fitness (the original deep-copies
//    them, the copy collides in the ledger, is mutated, trained as a new genome, and
//    keeps the loser's id and parents);
//  - kept members join the new generation (the original leaves elites with their
//    birth generation);
//  - the elite count is at least two, so a small population always has two parents.
class GenerationalStrategy : public Strategy {
 public:
  GenerationalStrategy(genome::SearchSpace space, GenerationalOptions options);

  absl::StatusOr<std::vector<Candidate>> Next(int max_count, absl::BitGenRef rng) override;
  absl::Status Report(int64_t id, const Fitness& fitness) override;
  bool Done() const override;
  int generation() const override { return generation_; }
  int64_t PlannedTrials() const override;
  std::vector<Member> Population() const override { return population_; }

 private:
  bool GenerationComplete() const;
  absl::Status CreateInitialPopulation(absl::BitGenRef rng);
  absl::Status Evolve(absl::BitGenRef rng);
  // Draws two distinct parent indices from a pool of `pool_size`.
  absl::StatusOr<std::pair<int, int>> PickParents(int pool_size, absl::BitGenRef rng) const;
  absl::StatusOr<genome::Genome> Admit(genome::Genome genome, absl::BitGenRef rng);

  const genome::SearchSpace space_;
  const GenerationalOptions options_;
  int generation_ = 0;
  int64_t next_id_ = 1;   // Candidate::id
  int64_t next_uid_ = 1;  // Candidate::uid
  std::vector<Member> population_;
  // Index into population_ of the next member to hand out in this generation.
  size_t next_to_hand_out_ = 0;
  absl::flat_hash_map<int64_t, size_t> pending_;  // id -> index in population_
  GenomeSet seen_;                                // every genome admitted in this search
};

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_GENERATIONAL_H_
