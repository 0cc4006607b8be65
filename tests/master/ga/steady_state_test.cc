#include "master/ga/steady_state.h"

#include <random>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "tests/master/ga/fake_fitness.h"
#include "tests/master/ga/test_util.h"

namespace deepevolve::ga {
namespace {

Fitness AdamIsBest(const genome::Genome& g) {
  return {true, g.choice[3] == 1 ? 0.9 : 0.2 + 0.01 * g.choice[0]};
}

TEST(SteadyStateTest, NeverExceedsItsPopulationAndTrainsItsBudget) {
  SteadyStateOptions o;
  o.population = 20;
  o.trials = 200;
  for (int workers : {1, 3, 16}) {
    SteadyStateStrategy s(testing::PresetSpace("cifar10_cnn"), o);
    auto trained = testing::RunToCompletion(s, AdamIsBest, workers, workers,
                                            [&] { ASSERT_LE(s.Population().size(), 20u); });
    EXPECT_EQ(trained.size(), 200u);
    absl::flat_hash_set<genome::Genome> distinct;
    for (const auto& t : trained) EXPECT_TRUE(distinct.insert(t.candidate.genome).second);
  }
}

TEST(SteadyStateTest, NoBarrierKeepsEveryWorkerBusy) {
  SteadyStateOptions o;
  o.population = 10;
  o.trials = 100;
  SteadyStateStrategy s(testing::PresetSpace("cifar10_mlp"), o);
  std::mt19937_64 rng(1);
  auto first = s.Next(8, rng);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 8u);
  ASSERT_TRUE(s.Report((*first)[0].id, {true, 0.5}).ok());
  // Two random genomes remain of the first ten, then children of what is trained.
  auto more = s.Next(8, rng);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->size(), 8u);
  EXPECT_NE((*more)[7].parents[0], 0);
}

TEST(SteadyStateTest, TheOldestLeavesWhateverItsFitness) {
  SteadyStateOptions o;
  o.population = 3;
  o.trials = 10;
  SteadyStateStrategy s(testing::PresetSpace("mnist_mlp"), o);
  std::mt19937_64 rng(1);
  std::vector<int64_t> order;
  for (int i = 0; i < 5; ++i) {
    auto next = s.Next(1, rng);
    ASSERT_TRUE(next.ok());
    ASSERT_EQ(next->size(), 1u);
    // The first member is the best by far, and it still ages out.
    ASSERT_TRUE(s.Report((*next)[0].id, {true, i == 0 ? 1.0 : 0.1}).ok());
    order.push_back((*next)[0].id);
  }
  std::vector<int64_t> ids;
  for (const Member& m : s.Population()) ids.push_back(m.candidate.id);
  EXPECT_EQ(ids, (std::vector<int64_t>{order[2], order[3], order[4]}));
}

TEST(SteadyStateTest, FindsTheGoodRegion) {
  SteadyStateOptions o;
  o.trials = 120;
  SteadyStateStrategy s(testing::PresetSpace("cifar10_mlp"), o);
  auto trained = testing::RunToCompletion(s, AdamIsBest, 5, 4);
  int adam_late = 0;
  for (size_t i = 90; i < trained.size(); ++i)
    adam_late += trained[i].candidate.genome.choice[3] == 1;
  EXPECT_GT(adam_late, 10);  // far above the 1-in-7 of random draws
}

TEST(SteadyStateTest, TournamentsPreferAFullyTrainedMemberToAPrunedOne) {
  SteadyStateOptions options;
  options.population = 2;
  options.tournament_size = 8;
  options.trials = 40;
  SteadyStateStrategy s(testing::PresetSpace("cifar10_mlp"), options);
  std::mt19937_64 rng(2);
  auto first = s.Next(2, rng);
  ASSERT_TRUE(first.ok() && first->size() == 2u);
  const int64_t pruned = (*first)[0].id, full = (*first)[1].id;
  ASSERT_TRUE(s.Report(pruned, {true, 0.9, /*pruned=*/true}).ok());
  ASSERT_TRUE(s.Report(full, {true, 0.3}).ok());
  auto children = s.Next(1, rng);
  ASSERT_TRUE(children.ok());
  ASSERT_EQ(children->size(), 1u);
  // A tournament of 8 draws from 2 misses the full member 1 time in 256.
  EXPECT_EQ((*children)[0].parents[0], full);
  EXPECT_EQ((*children)[0].parents[1], full);
}

}  // namespace
}  // namespace deepevolve::ga
