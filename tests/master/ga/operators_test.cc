#include "master/ga/operators.h"

#include <algorithm>
#include <cmath>
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

// Near mutation on an ordered list: a value d places away with weight 1/d^2.
TEST(MutateTest, NearMovesToANeighbourMoreOftenThanFarAndStaysInRange) {
  std::vector<genome::GeneValue> rates;
  for (int i = 0; i < 13; ++i) rates.emplace_back(std::pow(10.0, -4 + i * 0.25));
  genome::SearchSpace space = *genome::SearchSpace::Create({{"learning_rate", rates}});
  ASSERT_TRUE(IsOrderedNumeric(space, 0));
  std::mt19937_64 rng(3);
  std::vector<int> counts(13, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const int v = Mutate(space, genome::Genome{{6}}, rng, MutationStyle::kNear).choice[0];
    ASSERT_GE(v, 0);
    ASSERT_LT(v, 13);
    ++counts[v];
  }
  EXPECT_EQ(counts[6], 0);
  // Weights 1/d^2 for d = 1..6 on both sides: sum 2 x 1.4914.
  const double total = 2 * (1 + 1 / 4.0 + 1 / 9.0 + 1 / 16.0 + 1 / 25.0 + 1 / 36.0);
  EXPECT_NEAR(counts[5] + counts[7], n * 2 / total, 0.02 * n);
  EXPECT_NEAR(counts[0] + counts[12], n * 2 / 36.0 / total, 0.01 * n);
  EXPECT_GT(counts[5], 3 * counts[4]);  // 4x expected
  // At an end of the list the neighbour on the one side takes the most.
  std::vector<int> from_end(13, 0);
  for (int i = 0; i < 2000; ++i) {
    ++from_end[Mutate(space, genome::Genome{{0}}, rng, MutationStyle::kNear).choice[0]];
  }
  EXPECT_EQ(from_end[0], 0);
  EXPECT_GT(from_end[1], 1000);
  // Names, and numbers out of order, are mutated uniformly either way.
  genome::SearchSpace names = testing::PresetSpace("mnist_mlp");
  EXPECT_FALSE(IsOrderedNumeric(names, 2));
  EXPECT_TRUE(IsOrderedNumeric(names, 0));
  genome::SearchSpace unordered = *genome::SearchSpace::Create(
      {{"g", {int64_t{3}, int64_t{1}, int64_t{2}}}}, genome::GeneNames::kAny);
  EXPECT_FALSE(IsOrderedNumeric(unordered, 0));
}

genome::Gene IntGene(const std::string& name, std::vector<int64_t> values) {
  genome::Gene g{name, {}};
  for (int64_t v : values) g.values.emplace_back(v);
  return g;
}

genome::SearchSpace LayerSpace() {
  return *genome::SearchSpace::Create(
      {IntGene("nb_neurons_2", {8, 16, 32}), IntGene("nb_layers", {1, 2, 3}),
       IntGene("nb_neurons_1", {8, 16}), IntGene("nb_neurons_3", {8, 16})});
}

TEST(MutateTest, OnlyActiveGenesMutateAndTheChildIsCanonical) {
  genome::SearchSpace space = LayerSpace();
  std::mt19937_64 rng(4);
  for (int i = 0; i < 3000; ++i) {
    const genome::Genome g = RandomGenome(space, rng);
    ASSERT_EQ(g, genome::Canonical(space, g));
    const genome::Genome m = Mutate(space, g, rng, MutationStyle::kNear);
    ASSERT_NE(m, g) << "a mutation changed only an inactive gene";
    ASSERT_EQ(m, genome::Canonical(space, m));
    auto [a, b] = Crossover(space, g, m, rng);
    EXPECT_EQ(a, genome::Canonical(space, a));
    EXPECT_EQ(b, genome::Canonical(space, b));
  }
}

TEST(GridGenomeTest, ListsEachCanonicalGenomeOnceInNestedOrder) {
  genome::SearchSpace space = LayerSpace();
  // Layers 1: 2 genomes; 2: 2 x 3; 3: 2 x 3 x 2.
  ASSERT_EQ(space.size(), 2u + 6u + 12u);
  GenomeSet all;
  for (uint64_t i = 0; i < space.size(); ++i) {
    const genome::Genome g = GridGenome(space, i);
    ASSERT_EQ(g, genome::Canonical(space, g)) << i;
    ASSERT_TRUE(all.insert(g).second) << "listed twice at " << i;
  }
  // The first gene stays outermost: nb_neurons_2 = 8 (and the one-layer genomes, where
  // it is inactive at its first value) come first.
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 0)), "nb_layers=1 nb_neurons_1=8");
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 2)),
            "nb_neurons_2=8 nb_layers=2 nb_neurons_1=8");
  EXPECT_EQ(genome::DescribeGenome(space, GridGenome(space, 19)),
            "nb_neurons_2=32 nb_layers=3 nb_neurons_1=16 nb_neurons_3=16");
  // MakeNovel finds the last unseen one.
  all.erase(GridGenome(space, 7));
  std::mt19937_64 rng(5);
  absl::StatusOr<genome::Genome> last = MakeNovel(space, GridGenome(space, 0), all, rng);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, GridGenome(space, 7));
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

// Audit F18: a space beyond 2^22 genomes, nearly used up, still gives its last unseen
// genomes instead of RESOURCE_EXHAUSTED "no unseen genome found after 1000 mutations".
TEST(MakeNovelTest, FindsTheLastUnseenGenomesOfASpaceBeyondFourMillion) {
  std::vector<genome::Gene> genes;
  for (const auto& [name, count] : {std::pair{"a", 256}, {"b", 256}, {"c", 65}}) {
    genome::Gene gene{name, {}};
    for (int v = 0; v < count; ++v) gene.values.emplace_back(int64_t{v});
    genes.push_back(std::move(gene));
  }
  genome::SearchSpace space = *genome::SearchSpace::Create(genes, genome::GeneNames::kAny);
  ASSERT_GT(space.size(), uint64_t{1} << 22);
  const std::vector<uint64_t> left = {17, 2'000'000, space.size() - 1};
  GenomeSet seen;
  seen.reserve(space.size());
  for (uint64_t i = 0; i < space.size(); ++i) {
    if (std::find(left.begin(), left.end(), i) == left.end()) seen.insert(GridGenome(space, i));
  }
  std::mt19937_64 rng(6);
  for (size_t n = 0; n < left.size(); ++n) {
    absl::StatusOr<genome::Genome> g = MakeNovel(space, GridGenome(space, 0), seen, rng);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_TRUE(seen.insert(*g).second);
  }
  EXPECT_EQ(MakeNovel(space, GridGenome(space, 0), seen, rng).status().code(),
            absl::StatusCode::kResourceExhausted);
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
