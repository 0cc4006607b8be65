#include "genome/trial_rank.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace deepevolve::genome {
namespace {

v1::Trial Make(int64_t id, v1::TrialState state, double accuracy, int epochs_run = 4,
               const char* error = "") {
  v1::Trial t;
  t.mutable_genome()->set_id(id);
  t.set_state(state);
  t.set_accuracy(accuracy);
  t.set_epochs_run(epochs_run);
  t.set_error(error);
  return t;
}

TEST(TrialRankTest, FullyTrainedBeforePrunedEachByAccuracyTiesToTheOlder) {
  std::vector<v1::Trial> trials = {
      Make(1, v1::PRUNED, 0.99, 1),      Make(2, v1::DONE, 0.80), Make(3, v1::CACHED, 0.90),
      Make(4, v1::TRIAL_FAILED, 0),      Make(5, v1::DONE, 0.80), Make(6, v1::PRUNED, 0.50, 3),
      Make(7, v1::DONE, 0.95, 4, "nan"), Make(8, v1::LEASED, 0),  Make(9, v1::ABANDONED, 0),
  };
  std::sort(trials.begin(), trials.end(), RanksBefore);
  std::vector<int64_t> order;
  for (const v1::Trial& t : trials) {
    if (RankOf(t).has_value()) order.push_back(t.genome().id());
  }
  EXPECT_EQ(order, (std::vector<int64_t>{3, 2, 5, 1, 6}));
  // Those outside the ranking come after every one in it.
  for (size_t i = order.size(); i < trials.size(); ++i) EXPECT_FALSE(IsSuccess(trials[i]));
}

TEST(TrialRankTest, WhatAStateSays) {
  EXPECT_TRUE(IsSuccess(Make(1, v1::PRUNED, 0.5, 1)));
  EXPECT_FALSE(IsSuccess(Make(1, v1::DONE, 0.5, 4, "loss is NaN")));
  EXPECT_TRUE(IsCompleted(Make(1, v1::DONE, 0.5)));
  EXPECT_FALSE(IsCompleted(Make(1, v1::PRUNED, 0.5, 1)));
  EXPECT_FALSE(IsCompleted(Make(1, v1::CACHED, 0.5)));
  EXPECT_TRUE(IsFinished(v1::ABANDONED));
  EXPECT_FALSE(IsFinished(v1::LEASED));
  EXPECT_EQ(EpochsTrained(Make(1, v1::PRUNED, 0.5, 1)), 1);
  EXPECT_EQ(EpochsTrained(Make(1, v1::CACHED, 0.5, 4)), 0);  // a ledger hit trained none
  EXPECT_EQ(EpochsTrained(Make(1, v1::TRIAL_FAILED, 0, 2)), 2);
  EXPECT_EQ(EpochsSaved(Make(1, v1::PRUNED, 0.5, 1), 4), 3);
  EXPECT_EQ(EpochsSaved(Make(1, v1::DONE, 0.5, 4), 4), 0);
}

}  // namespace
}  // namespace deepevolve::genome
