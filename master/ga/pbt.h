// Population-based training (Jaderberg et al. 2017, as Ray Tune's PBT): a population
// trains in rounds, the worst members taking over the best members' weights and
// training on under changed training genes.
#ifndef DEEPEVOLVE_MASTER_GA_PBT_H_
#define DEEPEVOLVE_MASTER_GA_PBT_H_

#include <cstdint>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "genome/space.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

struct PbtOptions {
  int population = 8;
  int ready_epochs = 1;  // epochs per round
  int epochs = 4;        // the task's: the last round ends there
  double quantile = 0.25;
  double resample_probability = 0.25;
  // The first genomes, before any random draw (SearchSpec.warm_start).
  std::vector<genome::Genome> first;
};

// The genes PbtStrategy changes when a member exploits another: the training genes,
// which a checkpoint can go on under. Every other gene shapes the network.
const std::vector<absl::string_view>& PbtTrainingGenes();

// Each member's rounds are trials (Candidate::round): round r trains epochs
// (r-1) x ready_epochs + 1 to r x ready_epochs (the last round to the task's end)
// from the checkpoint its member's round r-1 left. The first round's members are
// distinct random genomes.
//
// Rounds are synchronous: round r is handed out whole once every member's round r-1
// is reported. The members are then ranked by that round's accuracy (a failed round,
// or one that left no checkpoint, last; ties to the lower member). The bottom quantile
// (ceil(population x quantile), at most half) and every member without a checkpoint
// exploit: each copies a member of the top quantile that has one, chosen uniformly —
// its checkpoint (parents[0]) and its genes — and explores: each training gene moves
// to the value nearest x0.8 or x1.2 of its own (one step at least, when there is one
// that way; a neighbouring value for a gene whose values are not ordered numbers), or
// with chance resample_probability is drawn anew from the space. The others go on
// from their own checkpoints with their genes. A member with nothing to copy and no
// checkpoint trains its round from the first epoch.
//
// No two rounds of a search are the same schedule: a member whose explored genes
// another member of its round already goes on under from the same checkpoint explores
// again (then copies another top member).
//
// Each trial is made from one draw of the caller's rng, so Adopt takes a stored round
// back as Next made it (a master's restart replays the decisions it stored; it never
// decides them again).
class PbtStrategy : public Strategy {
 public:
  PbtStrategy(genome::SearchSpace space, PbtOptions options);

  absl::StatusOr<std::vector<Candidate>> Next(int max_count, absl::BitGenRef rng) override;
  bool ReplaysByAdopting() const override { return true; }
  absl::Status Adopt(const Candidate& candidate, absl::BitGenRef rng) override;
  absl::Status Report(int64_t id, const Fitness& fitness) override;
  bool Done() const override;
  int generation() const override { return round_ == 0 ? 1 : round_; }
  int64_t PlannedTrials() const override { return int64_t{options_.population} * rounds_; }
  std::vector<Member> Population() const override;

  int rounds() const { return rounds_; }
  // The epoch round r (1-based) ends after: 0 for the last (the task's end).
  int StopEpoch(int r) const { return r >= rounds_ ? 0 : r * options_.ready_epochs; }

 private:
  struct MemberState {
    Candidate current;               // its latest round
    std::optional<Fitness> fitness;  // that round's, once reported
  };
  // Whether every member's latest round is reported.
  bool RoundReported() const;
  // Ranks the members on the round just reported and begins the next.
  void BeginRound();
  // Member m's trial of the round being handed out.
  absl::StatusOr<Candidate> MakeRound(int m, absl::BitGenRef rng);
  // `genome` with its training genes explored.
  genome::Genome Explore(const genome::Genome& genome, absl::BitGenRef rng) const;
  Candidate Handed(Candidate c);

  const genome::SearchSpace space_;
  const PbtOptions options_;
  const int rounds_;
  std::vector<int> training_genes_;   // indices in space_
  std::vector<MemberState> members_;  // by member - 1
  // The members as the round before the one being handed out left them.
  std::vector<MemberState> previous_;
  int round_ = 0;        // the round being handed out (or trained)
  int next_member_ = 1;  // the next member of round_ to hand out
  int64_t next_id_ = 1;
  // Decided when a round begins: the members that copy another, and those they may
  // copy (by member number).
  std::set<int> exploiters_;
  std::vector<int> sources_;
  // The schedules of this round handed out so far: (the trial it goes on from, genes).
  std::set<std::pair<int64_t, std::vector<int>>> schedules_;
};

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_PBT_H_
