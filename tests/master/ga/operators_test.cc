#include "master/ga/operators.h"

#include <random>

#include "gtest/gtest.h"
#include "tests/master/ga/test_util.h"

namespace deepevolve::ga {
namespace {

TEST(MutateTest, ChangesExactlyOneGeneToANewValue) {
  genome::SearchSpace space = testing::PresetSpace("cifar10_mlp");
  std::mt19937_64 rng(1);
  std::vector<int> changed_gene_count(space.num_genes(), 0);
  for (int i = 0; i < 5000; ++i) {
    genome::Genome g = RandomGenome(space, rng);
    genome::Genome m = Mutate(space, g, rng);
    int differing = 0;
    for (int k = 0; k < space.num_genes(); ++k) {
      if (g.choice[k] != m.choice[k]) {
        ++differing;
        ++changed_gene_count[k];
        EXPECT_GE(m.choice[k], 0);
        EXPECT_LT(m.choice[k], space.num_values(k));
      }
    }
    ASSERT_EQ(differing, 1);
  }
  // The gene is chosen uniformly: each of the 4 genes about 1250 times.
  for (int c : changed_gene_count) EXPECT_NEAR(c, 1250, 150);
}

TEST(MutateTest, NewValueIsUniformOverTheOthers) {
  genome::SearchSpace space = *genome::SearchSpace::Create(
      {{"g", {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}}}}, genome::GeneNames::kAny);
  std::mt19937_64 rng(2);
  std::vector<int> counts(4, 0);
  genome::Genome g{{1}};
  for (int i = 0; i < 3000; ++i) ++counts[Mutate(space, g, rng).choice[0]];
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[0], 1000, 120);
  EXPECT_NEAR(counts[2], 1000, 120);
  EXPECT_NEAR(counts[3], 1000, 120);
}

TEST(CrossoverTest, ChildrenAreComplementaryAndTheCutIsNeverAtTheEnds) {
  genome::SearchSpace space = testing::PresetSpace("cifar10_cnn");
  const std::vector<int>& order = space.alphabetical_order();
  std::mt19937_64 rng(3);
  std::vector<int> cuts(space.num_genes() + 1, 0);
  for (int i = 0; i < 3000; ++i) {
    genome::Genome mom = RandomGenome(space, rng);
    genome::Genome dad = RandomGenome(space, rng);
    int cut = -1;
    auto [first, second] = Crossover(space, mom, dad, rng, &cut);
    ASSERT_GE(cut, 1);
    ASSERT_LE(cut, space.num_genes() - 1);
    ++cuts[cut];
    for (int k = 0; k < space.num_genes(); ++k) {
      const int gene = order[k];
      EXPECT_EQ(first.choice[gene], k < cut ? mom.choice[gene] : dad.choice[gene]);
      EXPECT_EQ(second.choice[gene], k < cut ? dad.choice[gene] : mom.choice[gene]);
    }
  }
  EXPECT_EQ(cuts[0], 0);
  EXPECT_EQ(cuts[4], 0);
  for (int c = 1; c <= 3; ++c) EXPECT_NEAR(cuts[c], 1000, 120);
}

TEST(CrossoverTest, CutsOverAlphabeticalNamesNotDeclarationOrder) {
  // Declared z, a: alphabetically a comes first, so with one cut the first child takes
  // mom's a and dad's z.
  genome::SearchSpace space = *genome::SearchSpace::Create(
      {{"z", {int64_t{0}, int64_t{1}}}, {"a", {int64_t{0}, int64_t{1}}}}, genome::GeneNames::kAny);
  std::mt19937_64 rng(4);
  auto [first, second] = Crossover(space, genome::Genome{{0, 0}}, genome::Genome{{1, 1}}, rng);
  EXPECT_EQ(first.choice, (std::vector<int>{1, 0}));  // z from dad, a from mom
  EXPECT_EQ(second.choice, (std::vector<int>{0, 1}));
}

TEST(MakeNovelTest, ReturnsUnseenGenomesUntilTheSpaceIsExhausted) {
  genome::SearchSpace space = *genome::SearchSpace::Create(
      {{"a", {int64_t{0}, int64_t{1}, int64_t{2}}}, {"b", {int64_t{0}, int64_t{1}}}},
      genome::GeneNames::kAny);
  std::mt19937_64 rng(5);
  GenomeSet seen;
  for (int i = 0; i < 6; ++i) {
    auto g = MakeNovel(space, genome::Genome{{0, 0}}, seen, rng);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_FALSE(seen.contains(*g));
    seen.insert(*g);
  }
  auto exhausted = MakeNovel(space, genome::Genome{{0, 0}}, seen, rng);
  EXPECT_EQ(exhausted.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(exhausted.status().message().find("all 6 genomes"), std::string::npos);
}

TEST(GridGenomeTest, NestsGenesInDeclarationOrder) {
  genome::SearchSpace space = testing::PresetSpace("cifar10_cnn");
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 0)),
            "nb_neurons=16 nb_layers=1 activation=relu optimizer=rmsprop");
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 1)),
            "nb_neurons=16 nb_layers=1 activation=relu optimizer=adam");
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 7)),
            "nb_neurons=16 nb_layers=1 activation=elu optimizer=rmsprop");
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 49)),
            "nb_neurons=16 nb_layers=2 activation=relu optimizer=rmsprop");
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 979)),
            "nb_neurons=128 nb_layers=5 activation=linear optimizer=nadam");
}

}  // namespace
}  // namespace deepevolve::ga
