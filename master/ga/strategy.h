// Search strategies: what to train next, given the results so far.
#ifndef DEEPEVOLVE_MASTER_GA_STRATEGY_H_
#define DEEPEVOLVE_MASTER_GA_STRATEGY_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/genome.h"
#include "genome/space.h"

namespace deepevolve::ga {

// A genome the strategy wants trained.
struct Candidate {
  // Unique within the search: 1, 2, ... in creation order. Report() takes it back.
  int64_t id = 0;
  // The id DeepEvolve would log ("UniID"). Equal to `id`, except for the lucky losers
  // of deepevolve_compat mode, which keep the id of the genome they were copied from.
  int64_t uid = 0;
  genome::Genome genome;
  std::array<int64_t, 2> parents{};  // {0, 0} for a random genome
  int generation = 1;
  // A round of population-based training (PbtStrategy); nullopt for the others. It
  // trains epochs start_epoch + 1 to stop_epoch of `member`, going on from the
  // checkpoint trial parents[0] left after start_epoch (start_epoch 0: from the first
  // epoch; stop_epoch 0: through the task's last).
  struct Round {
    int member = 0;
    int start_epoch = 0;
    int stop_epoch = 0;
    friend bool operator==(const Round& a, const Round& b) {
      return a.member == b.member && a.start_epoch == b.start_epoch && a.stop_epoch == b.stop_epoch;
    }
  };
  std::optional<Round> round;
};

// The result of training a candidate, as far as selection cares.
struct Fitness {
  Fitness() = default;
  Fitness(bool ok, double accuracy, bool pruned = false)
      : ok(ok), accuracy(accuracy), pruned(pruned) {}

  bool ok = true;       // false: the genome failed (it ranks below every success)
  double accuracy = 0;  // in [0, 1]
  // Stopped by the search's pruner: `accuracy` is from an earlier epoch than the
  // others', so it ranks below every genome that trained fully (and above failures).
  bool pruned = false;
  // With several objectives or constraints (genome/pareto.h): the objectives' values,
  // oriented so that larger is better, and the total violation of the constraints.
  // Empty for a search of accuracy alone, which rank() orders.
  std::vector<double> objectives;
  double violation = 0;
  // Population-based training: whether the master holds the state the trial's last
  // epoch left (its checkpoint), for a later round to go on from.
  bool resumable = true;

  double rank() const { return !ok ? -3.0 : pruned ? accuracy - 2.0 : accuracy; }
};

// A member of the current population.
struct Member {
  Candidate candidate;
  std::optional<Fitness> fitness;  // nullopt until its result arrives
};

// A strategy hands out genomes and takes their results back, in any interleaving, so
// that a master can run it with any number of workers: call Next whenever a worker is
// free, Report whenever a result arrives, until Done. A genome handed out is never
// handed out again, and no genome is handed out twice in one search.
//
// Strategies are pure: no clock, no threads, no I/O; randomness comes from the caller.
// Thread-compatible: callers serialise access.
class Strategy {
 public:
  virtual ~Strategy() = default;

  // Returns up to `max_count` genomes to train now. An empty list with !Done() means
  // "wait for results" (a generation barrier, or nothing trained to breed from yet).
  // RESOURCE_EXHAUSTED when no unseen genome is left in the space; FAILED_PRECONDITION
  // in deepevolve_compat mode where the original raised (a breeding pool of two).
  virtual absl::StatusOr<std::vector<Candidate>> Next(int max_count, absl::BitGenRef rng) = 0;

  // Recovery: takes back `candidate`, which a logged Next handed out (its id, genome
  // and parents as stored), leaving this strategy and `rng` as that Next left them,
  // without breeding again. Only strategies whose Next costs much replay so
  // (ReplaysByAdopting); the others replay by calling Next, which checks the log.
  // FAILED_PRECONDITION when `candidate` cannot be what this strategy handed out next.
  virtual bool ReplaysByAdopting() const { return false; }
  virtual absl::Status Adopt(const Candidate& candidate, absl::BitGenRef rng) {
    return absl::UnimplementedError("this strategy replays by calling Next");
  }

  // Records the result for a genome returned by Next. NOT_FOUND for an id that was not
  // handed out; FAILED_PRECONDITION for an id already reported.
  virtual absl::Status Report(int64_t id, const Fitness& fitness) = 0;

  // True once every planned genome has been trained and reported.
  virtual bool Done() const = 0;

  // The generation being trained (1-based); strategies without generations say 1.
  virtual int generation() const = 0;

  // How many genomes the whole search is expected to train (exact for budgeted
  // strategies, the expectation for generational ones). For progress and ETA.
  virtual int64_t PlannedTrials() const = 0;

  // The current population with what is known of each member.
  virtual std::vector<Member> Population() const = 0;
};

// The warm start's genomes (spec.warm_start.genomes) in `space`, in order, each once;
// those the space does not hold are passed over. INVALID_ARGUMENT when it has genomes
// and the space holds none of them, naming why the first did not fit.
absl::StatusOr<std::vector<genome::Genome>> WarmStartGenomes(const genome::SearchSpace& space,
                                                             const v1::SearchSpec& spec);

// Builds the strategy that `spec` (resolved: defaults filled, see spec.h) selects.
absl::StatusOr<std::unique_ptr<Strategy>> MakeStrategy(const genome::SearchSpace& space,
                                                       const v1::SearchSpec& spec);

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_STRATEGY_H_
