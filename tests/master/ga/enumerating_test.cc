#include "master/ga/enumerating.h"

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "tests/master/ga/fake_fitness.h"
#include "tests/master/ga/test_util.h"

namespace deepevolve::ga {
namespace {

TEST(GridTest, YieldsExactly980GenomesForCifar10CnnInTheOriginalOrder) {
  v1::SearchSpec spec;
  spec.mutable_grid();
  v1::SearchSpec resolved = testing::ResolvedPreset("cifar10_cnn", spec);
  EXPECT_EQ(resolved.grid().trials(), 980);
  genome::SearchSpace space = testing::PresetSpace("cifar10_cnn");
  auto strategy = MakeStrategy(space, resolved);
  ASSERT_TRUE(strategy.ok());
  auto trained = testing::RunToCompletion(
      **strategy, [](const genome::Genome&) { return Fitness{}; }, 1);
  ASSERT_EQ(trained.size(), 980u);
  // brute.py's nested loops: nb_neurons -> nb_layers -> activation -> optimizer.
  size_t i = 0;
  for (int n = 0; n < 4; ++n)
    for (int l = 0; l < 5; ++l)
      for (int a = 0; a < 7; ++a)
        for (int o = 0; o < 7; ++o) {
          ASSERT_EQ(trained[i].candidate.genome.choice, (std::vector<int>{n, l, a, o}));
          ++i;
        }
  EXPECT_EQ(genome::DescribeGenome(space, trained[0].candidate.genome),
            "nb_neurons=16 nb_layers=1 activation=relu optimizer=rmsprop");
  EXPECT_EQ(genome::DescribeGenome(space, trained[1].candidate.genome),
            "nb_neurons=16 nb_layers=1 activation=relu optimizer=adam");
}

TEST(RandomTest, DrawsWithoutReplacementUpToTheWholeSpace) {
  genome::SearchSpace space = testing::PresetSpace("mnist_mlp");
  EnumeratingStrategy s(space, EnumeratingStrategy::Order::kRandom, 10000);
  EXPECT_EQ(s.PlannedTrials(), 490);
  auto trained = testing::RunToCompletion(
      s, [](const genome::Genome&) { return Fitness{}; }, 3, 7);
  ASSERT_EQ(trained.size(), 490u);
  absl::flat_hash_set<genome::Genome> distinct;
  for (const auto& t : trained) distinct.insert(t.candidate.genome);
  EXPECT_EQ(distinct.size(), 490u);
}

}  // namespace
}  // namespace deepevolve::ga
