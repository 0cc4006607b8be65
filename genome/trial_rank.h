// What a trial's state says, and the one order of trials. Every leaderboard (live, or
// read back from a finished search), `top`, `local`'s table and best genome, and the
// dashboard's ranked list take their order from RankKey: the seam a multi-objective
// ranking replaces.
#ifndef DEEPEVOLVE_GENOME_TRIAL_RANK_H_
#define DEEPEVOLVE_GENOME_TRIAL_RANK_H_

#include <cstdint>
#include <optional>
#include <tuple>

#include "deepevolve/v1/service.pb.h"

namespace deepevolve::genome {

// A result to rank and show: trained fully, answered from the ledger, or stopped by
// the pruner, without an error.
bool IsSuccess(const v1::Trial& t);
// Trained all its epochs (or stopped by its own early stopping) with a result: what a
// pruner counts as completed. A round of population-based training that is not its
// member's last (Trial.stop_epoch) is not.
bool IsCompleted(const v1::Trial& t);
// A state a trial leaves no more (its lease may still repeat its report).
bool IsFinished(v1::TrialState state);
// Epochs this search trained for a finished trial (a ledger hit trained none; a round
// of population-based training those after its start_epoch), and the epochs its pruner
// saved it of `task_epochs`.
int EpochsTrained(const v1::Trial& t);
int EpochsSaved(const v1::Trial& t, int task_epochs);

// A trial's place in the ranking, lower first: trials that trained fully (DONE,
// CACHED) before those the pruner stopped and rounds of population-based training
// before their member's last (whose accuracy is from an earlier epoch), each by
// accuracy, the higher first; ties to the older genome (the lower id).
struct RankKey {
  int tier = 0;  // 0: trained fully, 1: pruned or an earlier round
  double accuracy = 0;
  int64_t genome_id = 0;

  friend bool operator<(const RankKey& a, const RankKey& b) {
    return std::make_tuple(a.tier, -a.accuracy, a.genome_id) <
           std::make_tuple(b.tier, -b.accuracy, b.genome_id);
  }
  friend bool operator==(const RankKey& a, const RankKey& b) {
    return a.tier == b.tier && a.accuracy == b.accuracy && a.genome_id == b.genome_id;
  }
};
// nullopt for a trial outside the ranking: !IsSuccess (failed, abandoned, running).
std::optional<RankKey> RankOf(const v1::Trial& t);
// Whether `a` ranks before `b`; a trial outside the ranking goes after every one in it.
bool RanksBefore(const v1::Trial& a, const v1::Trial& b);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_TRIAL_RANK_H_
