// Strategies without selection: random search and grid (brute force).
#ifndef DEEPEVOLVE_MASTER_GA_ENUMERATING_H_
#define DEEPEVOLVE_MASTER_GA_ENUMERATING_H_

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "master/ga/operators.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

// Hands out `trials` genomes (at most the whole space), never one twice, and keeps
// every result. No barrier: every free worker gets a genome until the budget is out.
class EnumeratingStrategy : public Strategy {
 public:
  enum class Order {
    kRandom,  // uniform draws without replacement
    kGrid,    // GridGenome(0), GridGenome(1), ...: DeepEvolve's brute.py order
  };
  // `first`: random order's first genomes, before any draw (SearchSpec.warm_start).
  EnumeratingStrategy(genome::SearchSpace space, Order order, int64_t trials,
                      std::vector<genome::Genome> first = {});

  absl::StatusOr<std::vector<Candidate>> Next(int max_count, absl::BitGenRef rng) override;
  absl::Status Report(int64_t id, const Fitness& fitness) override;
  bool Done() const override { return reported_ >= planned_; }
  int generation() const override { return 1; }
  int64_t PlannedTrials() const override { return planned_; }
  std::vector<Member> Population() const override;

 private:
  const genome::SearchSpace space_;
  const Order order_;
  const int64_t planned_;
  const std::vector<genome::Genome> first_;
  int64_t next_id_ = 1;
  int64_t reported_ = 0;
  std::vector<Member> members_;  // by id - 1
  GenomeSet seen_;
};

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_ENUMERATING_H_
