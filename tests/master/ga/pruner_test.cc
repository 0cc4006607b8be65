// Pruner decisions on scripted learning curves.
#include "master/ga/pruner.h"

#include <algorithm>
#include <map>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deepevolve::ga {
namespace {

// Records a whole curve for trial `id` and returns the first epoch at which the pruner
// said stop (0: never), recording no further once stopped.
int Train(Pruner& p, int64_t id, const std::vector<double>& curve) {
  for (size_t e = 0; e < curve.size(); ++e) {
    if (p.Record(id, static_cast<int>(e + 1), curve[e])) {
      p.Finished(id, /*completed=*/false);
      return static_cast<int>(e + 1);
    }
  }
  p.Finished(id, /*completed=*/true);
  return 0;
}

TEST(MedianPrunerTest, WaitsForMinTrialsThenStopsBelowTheMedian) {
  MedianPruner p(/*epochs=*/4, /*warmup_epochs=*/0, /*min_trials=*/3);
  // Below everything, but too soon: fewer than 3 trials completed.
  EXPECT_EQ(Train(p, 1, {0.50, 0.60, 0.70, 0.80}), 0);
  EXPECT_EQ(Train(p, 2, {0.40, 0.50, 0.60, 0.70}), 0);
  EXPECT_EQ(Train(p, 3, {0.10, 0.20, 0.30, 0.40}), 0);
  // Completed at epoch 1: 0.50, 0.40, 0.10 (median 0.40). 0.45 goes on; at epoch 2
  // (median 0.50) its best, 0.48, is below: stop.
  EXPECT_EQ(Train(p, 4, {0.45, 0.48, 0.9, 0.9}), 2);
  // 0.39 < 0.40 at epoch 1.
  EXPECT_EQ(Train(p, 5, {0.39, 0.9, 0.9, 0.9}), 1);
  // Pruned trials do not count among the completed: epoch 1's median stays 0.40.
  EXPECT_EQ(Train(p, 6, {0.40, 0.55, 0.65, 0.75}), 0);
}

TEST(MedianPrunerTest, ComparesTheBestSoFarAndInterpolatesAnEvenCount) {
  MedianPruner p(4, 0, 2);
  Train(p, 1, {0.2, 0.6, 0.7, 0.8});
  Train(p, 2, {0.4, 0.4, 0.7, 0.8});
  // Epoch 2's median is 0.5, halfway between 0.4 and 0.6; this trial's best so far at
  // epoch 2 is 0.55 (from epoch 1), above it.
  EXPECT_FALSE(p.Record(3, 1, 0.55));
  EXPECT_FALSE(p.Record(3, 2, 0.45));
  // At epoch 3 the median is 0.7: 0.55 is below.
  EXPECT_TRUE(p.Record(3, 3, 0.5));
}

TEST(MedianPrunerTest, NoDecisionInTheWarmupNorAtTheLastEpoch) {
  MedianPruner p(3, /*warmup_epochs=*/1, 1);
  Train(p, 1, {0.9, 0.9, 0.9});
  EXPECT_FALSE(p.Record(2, 1, 0.1));  // warm-up
  EXPECT_TRUE(p.Record(2, 2, 0.1));
  EXPECT_FALSE(p.Record(3, 3, 0.1));  // the last epoch: it ends anyway
}

TEST(MedianPrunerTest, ARecordedPointIsReplacedNotAdded) {
  MedianPruner p(4, 0, 1);
  Train(p, 1, {0.5, 0.6, 0.7, 0.8});
  // A retried heartbeat or a retrained genome: the first 0.9 does not stay its best.
  EXPECT_FALSE(p.Record(2, 1, 0.9));
  EXPECT_TRUE(p.Record(2, 1, 0.3));
}

TEST(AshaTest, RungsAreMinEpochsTimesPowersOfTheFactorBelowTheEpochs) {
  EXPECT_THAT(AshaRungs(1, 3, 4), ::testing::ElementsAre(1, 3));
  EXPECT_THAT(AshaRungs(1, 2, 16), ::testing::ElementsAre(1, 2, 4, 8));
  EXPECT_THAT(AshaRungs(2, 3, 30), ::testing::ElementsAre(2, 6, 18));
  EXPECT_THAT(AshaRungs(4, 3, 4), ::testing::IsEmpty());
}

TEST(AshaTest, OnlyTheTopThirdGoesPastARung) {
  AshaPruner p(/*epochs=*/4, /*min_epochs=*/1, /*reduction_factor=*/3);
  // Fewer than 3 at the rung: only the best so far goes on.
  EXPECT_FALSE(p.Record(1, 1, 0.5));
  EXPECT_TRUE(p.Record(2, 1, 0.4));
  EXPECT_FALSE(p.Record(3, 1, 0.6));
  // 4 recorded: the top 4 / 3 = 1, i.e. at least 0.6.
  EXPECT_TRUE(p.Record(4, 1, 0.55));
  // 6 recorded (0.5 0.4 0.6 0.55 0.7 0.65): the top 2, at least 0.65.
  EXPECT_FALSE(p.Record(5, 1, 0.7));
  EXPECT_FALSE(p.Record(6, 1, 0.65));
  // Between rungs it goes on, whatever its accuracy; at rung 3 the rule again.
  EXPECT_FALSE(p.Record(5, 2, 0.1));
  EXPECT_FALSE(p.Record(5, 3, 0.8));
  EXPECT_TRUE(p.Record(6, 3, 0.75));
  // Never at the last epoch.
  EXPECT_FALSE(p.Record(5, 4, 0.0));
}

TEST(AshaTest, NoBarrierAndRecordedAgainReplaces) {
  AshaPruner p(9, 1, 3);
  // A trial at rung 3 decides on what rung 3 holds now, not waiting for others.
  EXPECT_FALSE(p.Record(1, 1, 0.5));
  EXPECT_FALSE(p.Record(1, 3, 0.5));
  // The same trial recorded again at a rung replaces its value.
  EXPECT_FALSE(p.Record(2, 1, 0.6));
  EXPECT_TRUE(p.Record(2, 1, 0.1));  // now 0.5 and 0.1: only the best goes on
}

// The order-statistic structure behind both pruners agrees with sorting, through
// replacements, ties and erasures.
TEST(RankedValuesTest, AgreesWithASortedCopy) {
  RankedValues ranked;
  std::map<int64_t, double> reference;
  std::mt19937_64 rng(5);
  for (int step = 0; step < 2000; ++step) {
    const int64_t key = static_cast<int64_t>(rng() % 300);
    if (rng() % 5 == 0) {
      ranked.Erase(key);
      reference.erase(key);
    } else {
      const double value = static_cast<double>(rng() % 50) / 50;  // many ties
      ranked.Set(key, value);
      reference[key] = value;
    }
    ASSERT_EQ(ranked.size(), reference.size());
    std::vector<double> sorted;
    for (const auto& [k, v] : reference) sorted.push_back(v);
    std::sort(sorted.begin(), sorted.end());
    for (size_t k = 0; k < sorted.size(); k += 7) ASSERT_EQ(ranked.Kth(k), sorted[k]) << step;
  }
}

// Audit F15: an abandoned attempt's points leave the pruner, as they leave the stored
// curve, so a decision after a restart (which sees only the stored curves) is the same.
TEST(AshaTest, AForgottenAttemptNoLongerCountsAtItsRungs) {
  AshaPruner live(4, 1, 3);
  EXPECT_FALSE(live.Record(1, 1, 0.99));  // genome 1's first attempt, then lost
  live.Forget(1);
  EXPECT_FALSE(live.Record(2, 1, 0.5));  // the best at the rung again
  AshaPruner restarted(4, 1, 3);
  EXPECT_FALSE(restarted.Record(2, 1, 0.5));
  MedianPruner median(4, 0, 1);
  median.Record(1, 1, 0.2);
  median.Forget(1);
  median.Finished(1, /*completed=*/true);  // nothing of it is left to count
  EXPECT_FALSE(median.Record(2, 1, 0.1));
}

// Multi-objective ASHA: at a rung of 4 trials with reduction factor 2 the first 2 in
// NSGA-II's order go on — here the front's two extremes, one of them the least
// accurate of all, which ASHA by accuracy would stop.
TEST(AshaTest, WithSeveralObjectivesARungKeepsTheFirstByParetoOrder) {
  AshaPruner p(4, 1, 2, /*several_objectives=*/true);
  ASSERT_EQ(p.rungs(), (std::vector<int>{1, 2}));
  auto at = [](double accuracy, double params) {
    return EpochScore{accuracy, genome::ParetoPoint{0, 0, {accuracy, -params}, 0}};
  };
  EXPECT_FALSE(p.Record(1, 1, at(0.5, 100)));  // alone: the best
  EXPECT_TRUE(p.Record(2, 1, at(0.4, 200)));   // dominated by 1
  // 1 and 3 are a front of two (both extremes); the tie goes to the first objective.
  EXPECT_TRUE(p.Record(3, 1, at(0.3, 10)));
  // A front of three: its extremes 1 and 4 have infinite crowding, 3 does not.
  EXPECT_FALSE(p.Record(4, 1, at(0.2, 5)));
  // By accuracy alone the same rung stops 4.
  AshaPruner by_accuracy(4, 1, 2);
  for (int id = 1; id <= 3; ++id) by_accuracy.Record(id, 1, 0.6 - 0.1 * id);
  EXPECT_TRUE(by_accuracy.Record(4, 1, 0.2));
  // A trial whose objectives are not all known at the rung goes on and is not counted.
  EXPECT_FALSE(p.Record(5, 1, EpochScore{0.1, std::nullopt}));
  // Restore learns without deciding; a restored rung decides as the live one.
  AshaPruner restored(4, 1, 2, true);
  for (int id = 1; id <= 4; ++id) {
    const double a[] = {0.5, 0.4, 0.3, 0.2}, n[] = {100, 200, 10, 5};
    restored.Restore(id, 1, at(a[id - 1], n[id - 1]));
  }
  EXPECT_EQ(restored.Record(6, 1, at(0.45, 150)), p.Record(6, 1, at(0.45, 150)));
  // Forgotten, a trial no longer counts: 2 alone at its rung goes on.
  for (int id : {1, 3, 4, 6}) p.Forget(id);
  EXPECT_FALSE(p.Record(2, 1, at(0.4, 200)));
}

TEST(MakePrunerTest, NoneMedianAsha) {
  v1::PrunerSpec none;
  EXPECT_EQ(MakePruner(none, 4), nullptr);
  v1::PrunerSpec median;
  median.mutable_median()->set_min_trials(1);
  EXPECT_NE(dynamic_cast<MedianPruner*>(MakePruner(median, 4).get()), nullptr);
  v1::PrunerSpec asha;
  asha.mutable_asha()->set_min_epochs(1);
  asha.mutable_asha()->set_reduction_factor(2);
  auto p = MakePruner(asha, 8);
  ASSERT_NE(dynamic_cast<AshaPruner*>(p.get()), nullptr);
  EXPECT_THAT(static_cast<AshaPruner*>(p.get())->rungs(), ::testing::ElementsAre(1, 2, 4));
}

}  // namespace
}  // namespace deepevolve::ga
