#include "master/ga/guided.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "master/ga/density_ratio.h"
#include "master/ga/steady_state.h"
#include "tests/master/ga/fake_fitness.h"
#include "tests/master/ga/test_util.h"

namespace deepevolve::ga {
namespace {

// Additive over the genes, each gene's last value best: a landscape a model of the
// results can learn and a GA climbs only by luck.
Fitness LastValuesBest(const genome::SearchSpace& space, const genome::Genome& g) {
  double score = 0;
  int active = 0;
  for (int k = 0; k < space.num_genes(); ++k) {
    if (!genome::IsActive(space, g, k)) continue;
    score += static_cast<double>(g.choice[k]) / (space.num_values(k) - 1);
    ++active;
  }
  return {true, score / active};
}

GuidedOptions Budget(int trials) {
  GuidedOptions o;
  o.population = 20;
  o.trials = trials;
  return o;
}

std::vector<genome::Genome> Search(Strategy& s, const genome::SearchSpace& space, uint64_t seed,
                                   int workers) {
  std::vector<genome::Genome> out;
  for (const auto& t : testing::RunToCompletion(
           s, [&](const genome::Genome& g) { return LastValuesBest(space, g); }, seed, workers)) {
    out.push_back(t.candidate.genome);
  }
  return out;
}

TEST(GuidedTest, TheSameSeedGivesTheSameSearch) {
  const genome::SearchSpace space = testing::PresetSpace("fashion_mnist_mlp_full");
  GuidedStrategy a(space, Budget(80)), b(space, Budget(80)), c(space, Budget(80));
  const auto first = Search(a, space, 5, 4);
  EXPECT_EQ(first, Search(b, space, 5, 4));
  EXPECT_NE(first, Search(c, space, 6, 4));
  EXPECT_GT(a.guided_count(), 50);
}

TEST(GuidedTest, NeverHandsOutAGenomeTwiceAndTrainsItsBudget) {
  // mnist_mlp has 490 genomes: a budget of all of them exhausts the space.
  const genome::SearchSpace space = testing::PresetSpace("mnist_mlp");
  for (int workers : {1, 8}) {
    GuidedStrategy s(space, Budget(10000));
    const auto trained = Search(s, space, 3, workers);
    EXPECT_EQ(trained.size(), space.size()) << workers;
    absl::flat_hash_set<genome::Genome> distinct(trained.begin(), trained.end());
    EXPECT_EQ(distinct.size(), trained.size()) << workers;
  }
}

TEST(GuidedTest, WithoutAModelItIsAgingEvolution) {
  // Every result of one rank (here: every genome failed) gives the model nothing to
  // tell apart; the strategy then draws exactly what aging evolution draws.
  const genome::SearchSpace space = testing::PresetSpace("cifar10_cnn");
  GuidedOptions g = Budget(60);
  SteadyStateOptions o;
  o.population = g.population;
  o.tournament_size = g.tournament_size;
  o.trials = g.trials;
  o.mutate_chance = g.mutate_chance;
  o.mutation = g.mutation;
  GuidedStrategy guided(space, g);
  SteadyStateStrategy steady(space, o);
  auto failed = [](const genome::Genome&) { return Fitness{false, 0}; };
  const auto a = testing::RunToCompletion(guided, failed, 9, 3);
  const auto b = testing::RunToCompletion(steady, failed, 9, 3);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].candidate.genome, b[i].candidate.genome);
  EXPECT_EQ(guided.guided_count(), 0);
}

TEST(GuidedTest, ParallelWorkersGetDifferentGenomes) {
  const genome::SearchSpace space = testing::PresetSpace("fashion_mnist_mlp_full");
  GuidedOptions o = Budget(200);
  o.explore = 0;  // every genome the model's
  GuidedStrategy s(space, o);
  std::mt19937_64 rng(2);
  auto first = s.Next(12, rng);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 12u);
  for (const Candidate& c : *first)
    ASSERT_TRUE(s.Report(c.id, LastValuesBest(space, c.genome)).ok());
  // The model screens from here on; sixteen genomes are out at once.
  auto batch = s.Next(16, rng);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 16u);
  EXPECT_EQ(s.guided_count(), 16);
  absl::flat_hash_set<genome::Genome> distinct;
  for (const Candidate& c : *first) distinct.insert(c.genome);
  for (const Candidate& c : *batch) EXPECT_TRUE(distinct.insert(c.genome).second);
  // Genomes in flight count among the rest, so a batch spreads out: its members differ
  // from the first in more than two genes on average.
  int genes_differing = 0;
  for (size_t i = 1; i < batch->size(); ++i) {
    for (int k = 0; k < space.num_genes(); ++k) {
      genes_differing += (*batch)[i].genome.choice[k] != (*batch)[0].genome.choice[k];
    }
  }
  EXPECT_GT(genes_differing, 2 * 15);
  // A result for a genome still out, reported late, is accepted once.
  EXPECT_TRUE(s.Report((*batch)[7].id, {true, 0.5}).ok());
  EXPECT_EQ(s.Report((*batch)[7].id, {true, 0.5}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.Report(1000, {true, 0.5}).code(), absl::StatusCode::kNotFound);
}

// With chance `explore` a genome is one of the bred candidates unscreened: still unseen
// and distinct, and not counted as the model's.
TEST(GuidedTest, ExploreHandsOutUnscreenedCandidates) {
  const genome::SearchSpace space = testing::PresetSpace("fashion_mnist_mlp_full");
  for (double explore : {0.0, 0.5, 1.0}) {
    GuidedOptions o = Budget(110);
    o.explore = explore;
    GuidedStrategy s(space, o);
    const auto trained = Search(s, space, 4, 1);
    ASSERT_EQ(trained.size(), 110u);
    EXPECT_EQ(absl::flat_hash_set<genome::Genome>(trained.begin(), trained.end()).size(), 110u);
    // 100 genomes after the warm-up of 10: all, about half, or none the model's.
    if (explore == 0) {
      EXPECT_EQ(s.guided_count(), 100);
    }
    if (explore == 0.5) {
      EXPECT_GT(s.guided_count(), 30);
      EXPECT_LT(s.guided_count(), 70);
    }
    if (explore == 1) {
      EXPECT_EQ(s.guided_count(), 0);
    }
  }
}

// Two objectives in conflict over the first gene, each scaled by how good the other
// genes are: the front is every genome whose other genes are at their last value, one
// point per value of the first gene.
Fitness TwoObjectives(const genome::SearchSpace& space, const genome::Genome& g) {
  const double x = static_cast<double>(g.choice[0]) / (space.num_values(0) - 1);
  genome::Genome rest = g;
  rest.choice[0] = space.num_values(0) - 1;
  const double others = LastValuesBest(space, rest).accuracy;
  Fitness f(true, x);
  f.objectives = {(0.1 + 0.9 * x) * others, (1 - 0.9 * x) * others};
  return f;
}

// The hypervolume of the first `n` results above the reference (0, 0), median of seeds.
double MedianHypervolume(const genome::SearchSpace& space, bool guided, int n) {
  std::vector<double> volumes;
  for (uint64_t seed = 1; seed <= 9; ++seed) {
    std::unique_ptr<Strategy> s;
    if (guided) {
      s = std::make_unique<GuidedStrategy>(space, Budget(n));
    } else {
      SteadyStateOptions o;
      o.population = 20;
      o.trials = n;
      s = std::make_unique<SteadyStateStrategy>(space, o);
    }
    std::vector<std::vector<double>> found;
    for (const auto& t : testing::RunToCompletion(
             *s, [&](const genome::Genome& g) { return TwoObjectives(space, g); }, seed, 1)) {
      found.push_back(TwoObjectives(space, t.candidate.genome).objectives);
    }
    EXPECT_EQ(found.size(), static_cast<size_t>(n));
    volumes.push_back(genome::Hypervolume(found, {0, 0}));
  }
  std::sort(volumes.begin(), volumes.end());
  return volumes[volumes.size() / 2];
}

TEST(GuidedTest, WithSeveralObjectivesTheModelFindsMoreOfTheFront) {
  const genome::SearchSpace space = testing::PresetSpace("fashion_mnist_mlp_full");
  const double guided = MedianHypervolume(space, true, 150);
  const double steady = MedianHypervolume(space, false, 150);
  // 0.33 vs 0.28 when written.
  EXPECT_GT(guided, 1.1 * steady) << guided << " vs " << steady;
}

// Evaluations until a genome within `gap` of the best, over `seeds` seeds: the median.
int MedianEvaluations(const genome::SearchSpace& space, bool guided, int seeds) {
  std::vector<int> evals;
  for (int seed = 1; seed <= seeds; ++seed) {
    std::unique_ptr<Strategy> s;
    if (guided) {
      s = std::make_unique<GuidedStrategy>(space, Budget(400));
    } else {
      SteadyStateOptions o;
      o.population = 20;
      o.trials = 400;
      s = std::make_unique<SteadyStateStrategy>(space, o);
    }
    std::mt19937_64 rng(seed);
    int n = 0;
    while (!s->Done()) {
      auto next = s->Next(1, rng);
      EXPECT_TRUE(next.ok());
      if (!next.ok() || next->empty()) break;
      const Fitness f = LastValuesBest(space, next->front().genome);
      ++n;
      EXPECT_TRUE(s->Report(next->front().id, f).ok());
      if (f.accuracy >= 0.97) break;
    }
    evals.push_back(n);
  }
  std::sort(evals.begin(), evals.end());
  return evals[evals.size() / 2];
}

TEST(GuidedTest, TheModelFindsGoodGenomesSoonerThanAgingEvolution) {
  const genome::SearchSpace space = testing::PresetSpace("fashion_mnist_mlp_full");
  const int guided = MedianEvaluations(space, true, 15);
  const int steady = MedianEvaluations(space, false, 15);
  EXPECT_LT(guided * 3, steady * 2) << guided << " vs " << steady;
}

TEST(DensityRatioTest, NeedsTwoResultsOfDifferentRank) {
  const genome::SearchSpace space = testing::PresetSpace("mnist_mlp");
  const genome::Genome a = GridGenome(space, 0), b = GridGenome(space, 1);
  RankedResults results;
  EXPECT_FALSE(DensityRatio::Fit(space, results, {}).has_value());
  results.Add(a, 0.5);
  EXPECT_FALSE(DensityRatio::Fit(space, results, {}).has_value());
  results.Add(b, 0.5);
  EXPECT_FALSE(DensityRatio::Fit(space, results, {}).has_value());
  results.Add(b, 0.4);
  EXPECT_TRUE(DensityRatio::Fit(space, results, {}).has_value());
}

TEST(DensityRatioTest, ScoresNearTheGoodAboveNearTheRestAndCountsThePending) {
  const genome::SearchSpace space = testing::PresetSpace("mnist_mlp");
  std::vector<genome::Genome> genomes;
  for (uint64_t i = 0; i < 40; ++i) genomes.push_back(GridGenome(space, i * 11));
  RankedResults results;
  for (size_t i = 0; i < genomes.size(); ++i) {
    results.Add(genomes[i], i == 3 ? 0.9 : 0.1 + 0.001 * static_cast<double>(i));
  }
  auto model = DensityRatio::Fit(space, results, {});
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->good_count(), 4);
  EXPECT_EQ(model->rest_count(), 36);
  // The best genome's one-gene neighbours score above the worst one's.
  genome::Genome near_best = genomes[3], near_worst = genomes[0];
  near_best.choice[2] = (near_best.choice[2] + 1) % space.num_values(2);
  near_worst.choice[2] = (near_worst.choice[2] + 1) % space.num_values(2);
  EXPECT_GT(model->Score(near_best), model->Score(near_worst));
  // Handing a genome out lowers its score (constant liar).
  const double before = model->Score(near_best);
  model->AddPending(near_best);
  EXPECT_LT(model->Score(near_best), before);
  EXPECT_EQ(model->rest_count(), 37);
  // Draws from the good density are valid genomes, near the good ones more often.
  std::mt19937_64 rng(4);
  int near = 0;
  for (int i = 0; i < 400; ++i) {
    const genome::Genome g = model->SampleGood(rng);
    ASSERT_EQ(g.choice.size(), static_cast<size_t>(space.num_genes()));
    int same = 0;
    for (int k = 0; k < space.num_genes(); ++k) {
      ASSERT_GE(g.choice[k], 0);
      ASSERT_LT(g.choice[k], space.num_values(k));
      same += g.choice[k] == genomes[3].choice[k];
    }
    near += same >= 2;
  }
  EXPECT_GT(near, 100);
}

// With several objectives the good group is the first fronts (MOTPE's split), not the
// most accurate: here the two extremes of a front and the genomes next to them.
TEST(DensityRatioTest, WithSeveralObjectivesTheGoodAreTheBestByParetoOrder) {
  const genome::SearchSpace space = testing::PresetSpace("mnist_mlp");
  std::vector<genome::Genome> genomes;
  for (uint64_t i = 0; i < 40; ++i) genomes.push_back(GridGenome(space, i * 11));
  RankedResults results;
  auto point = [](double a, double b) { return genome::ParetoPoint{0, 0, {a, b}, 0}; };
  results.Add(genomes[0], point(0.5, 0.5));
  results.Add(genomes[1], point(0.5, 0.5));
  EXPECT_FALSE(results.Informative());  // the same point twice
  for (size_t i = 2; i < genomes.size(); ++i) {
    // On the front: 5 (most accurate, largest) and 9 (least accurate, smallest);
    // the others well inside it.
    const genome::ParetoPoint p = i == 5   ? point(0.9, -100)
                                  : i == 9 ? point(0.2, -1)
                                           : point(0.1, -200 - static_cast<double>(i));
    results.Add(genomes[i], p);
  }
  EXPECT_TRUE(results.Informative());
  auto model = DensityRatio::Fit(space, results, {});
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->good_count(), 4);
  // Both ends of the front are good: each scores above a dominated genome.
  EXPECT_GT(model->Score(genomes[5]), model->Score(genomes[20]));
  EXPECT_GT(model->Score(genomes[9]), model->Score(genomes[20]));
}

TEST(DensityRatioTest, InactiveGenesAreLeftOut) {
  const genome::SearchSpace space = testing::PresetSpace("fashion_mnist_mlp_full");
  const std::optional<int> layers = space.layers_gene();
  ASSERT_TRUE(layers.has_value());
  std::mt19937_64 rng(8);
  std::vector<genome::Genome> genomes;
  for (int i = 0; i < 30; ++i) genomes.push_back(RandomGenome(space, rng));
  RankedResults results;
  for (size_t i = 0; i < genomes.size(); ++i) results.Add(genomes[i], static_cast<double>(i));
  auto model = DensityRatio::Fit(space, results, {});
  ASSERT_TRUE(model.has_value());
  // Two genomes that differ only in an inactive gene are one genome to the model.
  genome::Genome one_layer = genomes[0];
  one_layer.choice[*layers] = 0;  // the fewest layers
  one_layer = genome::Canonical(space, one_layer);
  for (int k = 0; k < space.num_genes(); ++k) {
    if (genome::IsActive(space, one_layer, k)) continue;
    genome::Genome other = one_layer;
    other.choice[k] = space.num_values(k) - 1;
    EXPECT_DOUBLE_EQ(model->Score(other), model->Score(one_layer));
  }
  for (int i = 0; i < 50; ++i) {
    const genome::Genome g = model->SampleGood(rng);
    EXPECT_EQ(g, genome::Canonical(space, g));
  }
}

}  // namespace
}  // namespace deepevolve::ga
