// Model-guided evolution: aging evolution whose children are screened by a model.
#ifndef DEEPEVOLVE_MASTER_GA_GUIDED_H_
#define DEEPEVOLVE_MASTER_GA_GUIDED_H_

#include <deque>
#include <map>
#include <vector>

#include "master/ga/density_ratio.h"
#include "master/ga/operators.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

struct GuidedOptions {
  int population = 30;
  int tournament_size = 5;
  int trials = 240;
  double mutate_chance = 0.3;
  MutationStyle mutation = MutationStyle::kNear;
  int candidates = 64;
  int warmup = 10;
  double explore = 0.1;
  // The first genomes, before any random draw (SearchSpec.warm_start).
  std::vector<genome::Genome> first;
};

// Until `warmup` results exist, or while the model cannot be fitted (every result of
// one rank), exactly aging evolution (SteadyStateStrategy). After that, for each genome
// it hands out it breeds `candidates` unseen, distinct genomes — half children of two
// tournament parents (crossover, then a mutation with mutate_chance), a quarter
// mutants of a tournament winner, a quarter draws from the good density — and hands
// out the one the DensityRatio model (fitted to every result so far, with the genomes
// in flight among the rest; with several objectives its good group is the best by
// Pareto order, as MOTPE's) scores highest; with chance `explore` it hands out one of
// them at random instead. The population ages as in aging evolution: a result joins it
// and the oldest member leaves.
//
// Why `explore`: on a table of 2 016 real trainings (bench/README.md) about one search
// in ten let the model hold it in a basin of near-best genomes for hundreds of
// evaluations (p90 five times the median); 0.1 cuts that tail by a third and costs
// nothing measurable on the other tables.
class GuidedStrategy : public Strategy {
 public:
  GuidedStrategy(genome::SearchSpace space, GuidedOptions options);

  absl::StatusOr<std::vector<Candidate>> Next(int max_count, absl::BitGenRef rng) override;
  // A genome the model screens is bred from one draw of `rng` (an engine seeded with
  // it), so Adopt leaves `rng` as Next did without breeding and scoring again (audit
  // F3); aging evolution's genomes are bred again and checked.
  bool ReplaysByAdopting() const override { return true; }
  absl::Status Adopt(const Candidate& candidate, absl::BitGenRef rng) override;
  absl::Status Report(int64_t id, const Fitness& fitness) override;
  bool Done() const override { return reported_ >= planned_; }
  int generation() const override;
  int64_t PlannedTrials() const override { return planned_; }
  std::vector<Member> Population() const override;

  // How many genomes the model chose (the rest were aging evolution's) since this
  // object was made (Adopt does not know): for tests and benchmarks.
  int64_t guided_count() const { return guided_; }

 private:
  // Whether Next screens with the model: past the warm-up, with results to tell apart.
  bool Screens() const;
  const Candidate& Tournament(absl::BitGenRef rng) const;
  // The population's places in NSGA-II's order with several objectives; null without.
  const std::vector<int>* Positions() const { return positions_.empty() ? nullptr : &positions_; }
  // Aging evolution's next genome (random while the first population is drawn).
  absl::StatusOr<std::optional<Candidate>> Evolve(absl::BitGenRef rng);
  // The model's pick among freshly bred candidates (with `explore`, any one of them);
  // nullopt when none is unseen.
  std::optional<Candidate> Screen(DensityRatio& model, bool explore, absl::BitGenRef rng);
  // Records `c` as handed out under the next id; returns it with its id and generation.
  Candidate Handed(Candidate c);

  const genome::SearchSpace space_;
  // The model's kernel tables: the space's, built once (audit F10).
  std::shared_ptr<const DensityRatio::Kernels> kernels_;
  const GuidedOptions options_;
  const int64_t planned_;
  int64_t next_id_ = 1;
  int64_t reported_ = 0;
  int64_t guided_ = 0;
  std::deque<Member> population_;         // oldest first, all trained
  std::map<int64_t, Candidate> pending_;  // handed out, no result yet; ordered by id
  RankedResults results_;                 // every result, for the model
  std::vector<int> positions_;            // ParetoPositions(population_) with objectives
  GenomeSet seen_;
};

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_GUIDED_H_
