#include "genome/trial_rank.h"

#include <algorithm>

namespace deepevolve::genome {

bool IsSuccess(const v1::Trial& t) {
  return (t.state() == v1::DONE || t.state() == v1::CACHED || t.state() == v1::PRUNED) &&
         t.error().empty();
}

bool IsCompleted(const v1::Trial& t) {
  return t.state() == v1::DONE && t.error().empty() && t.stop_epoch() == 0;
}

bool IsFinished(v1::TrialState state) {
  return state == v1::DONE || state == v1::TRIAL_FAILED || state == v1::CACHED ||
         state == v1::ABANDONED || state == v1::PRUNED;
}

int EpochsTrained(const v1::Trial& t) {
  const bool trained =
      t.state() == v1::DONE || t.state() == v1::TRIAL_FAILED || t.state() == v1::PRUNED;
  return trained ? std::max(0, t.epochs_run() - t.start_epoch()) : 0;
}

int EpochsSaved(const v1::Trial& t, int task_epochs) {
  return t.state() == v1::PRUNED ? std::max(0, task_epochs - t.epochs_run()) : 0;
}

std::optional<RankKey> RankOf(const v1::Trial& t) {
  if (!IsSuccess(t)) return std::nullopt;
  const bool partial = t.state() == v1::PRUNED || t.stop_epoch() > 0;
  return RankKey{partial ? 1 : 0, t.accuracy(), t.genome().id()};
}

bool RanksBefore(const v1::Trial& a, const v1::Trial& b) {
  const std::optional<RankKey> ka = RankOf(a), kb = RankOf(b);
  if (!ka.has_value() || !kb.has_value()) return ka.has_value() && !kb.has_value();
  return *ka < *kb;
}

}  // namespace deepevolve::genome
