#include "master/ga/generational.h"

#include <functional>
#include <map>
#include <random>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "tests/master/ga/fake_fitness.h"
#include "tests/master/ga/test_util.h"

namespace deepevolve::ga {
namespace {

using testing::RunToCompletion;
using testing::Trained;

// A deterministic fitness with structure: more neurons and adam score higher.
Fitness StructuredFitness(const genome::Genome& g) {
  double a = 0.1 + 0.1 * g.choice[0] + 0.05 * g.choice[1] + (g.choice[3] == 1 ? 0.3 : 0.0) +
             0.01 * g.choice[2];
  return Fitness{true, std::min(a, 1.0)};
}

// Fitness drawn at random per genome (the replay of the original's statistics).
struct RandomFitness {
  std::mt19937_64 rng;
  Fitness operator()(const genome::Genome&) {
    return Fitness{true, std::uniform_real_distribution<double>(0, 1)(rng)};
  }
};

GenerationalStrategy Make(const char* preset, GenerationalOptions options = {}) {
  return GenerationalStrategy(testing::PresetSpace(preset), options);
}

TEST(GenerationalTest, NoGenomeIsTrainedTwiceInAFullRun) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    GenerationalStrategy s = Make("cifar10_cnn");
    auto trained = RunToCompletion(s, StructuredFitness, seed);
    absl::flat_hash_set<genome::Genome> genomes;
    std::set<int64_t> ids;
    for (const Trained& t : trained) {
      EXPECT_TRUE(genomes.insert(t.candidate.genome).second) << "seed " << seed;
      EXPECT_TRUE(ids.insert(t.candidate.id).second) << "seed " << seed;
    }
    EXPECT_EQ(s.generation(), 8);
  }
}

TEST(GenerationalTest, ElitesSurviveUnchangedAndAreNotRequeued) {
  GenerationalStrategy s = Make("cifar10_mlp");
  std::mt19937_64 rng(7);
  std::set<int64_t> handed_out;
  std::vector<Member> previous;
  for (int generation = 1; generation <= 8; ++generation) {
    auto next = s.Next(1000, rng);
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(s.generation(), generation);
    if (generation == 1) {
      EXPECT_EQ(next->size(), 30u);
    }
    for (const Candidate& c : *next) {
      EXPECT_TRUE(handed_out.insert(c.id).second) << "genome " << c.id << " handed out twice";
    }
    if (generation > 1) {
      // The top four of the previous generation are in this one, same id and fitness.
      std::vector<Member> sorted = previous;
      std::stable_sort(sorted.begin(), sorted.end(), [](const Member& a, const Member& b) {
        return a.fitness->rank() > b.fitness->rank();
      });
      std::vector<Member> now = s.Population();
      for (int e = 0; e < 4; ++e) {
        const Member& elite = sorted[e];
        auto it = std::find_if(now.begin(), now.end(), [&](const Member& m) {
          return m.candidate.id == elite.candidate.id;
        });
        ASSERT_NE(it, now.end()) << "elite " << elite.candidate.id << " dropped";
        EXPECT_EQ(it->candidate.genome, elite.candidate.genome);
        ASSERT_TRUE(it->fitness.has_value());
        EXPECT_EQ(it->fitness->accuracy, elite.fitness->accuracy);
        EXPECT_EQ(it->candidate.generation, generation);  // fixed: joins the new generation
      }
    }
    // The barrier: nothing more until this generation's results are in.
    auto waiting = s.Next(1000, rng);
    ASSERT_TRUE(waiting.ok());
    EXPECT_TRUE(waiting->empty());
    for (const Candidate& c : *next) ASSERT_TRUE(s.Report(c.id, StructuredFitness(c.genome)).ok());
    previous = s.Population();
  }
  EXPECT_TRUE(s.Done());
}

TEST(GenerationalTest, PopulationStaysAtItsSize) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    GenerationalStrategy s = Make("cifar10_cnn");
    RunToCompletion(s, RandomFitness{std::mt19937_64(seed)}, seed, 4,
                    [&] { ASSERT_EQ(s.Population().size(), 30u); });
  }
}

TEST(GenerationalTest, CompatPopulationDriftsLikeTheOriginal) {
  GenerationalOptions compat;
  compat.deepevolve_compat = true;
  int grew = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    GenerationalStrategy s = Make("cifar10_cnn", compat);
    size_t last = 30;
    RunToCompletion(s, RandomFitness{std::mt19937_64(seed)}, seed, 1, [&] {
      const size_t size = s.Population().size();
      EXPECT_GE(size, last);  // never shrinks
      last = size;
    });
    EXPECT_LE(last, 37u);
    if (last > 30) ++grew;
  }
  EXPECT_GT(grew, 25);  // grows by one whenever an odd number of slots is left
}

// Replays compat mode with random fitness: DeepEvolve trains about 225.6 distinct
// genomes in a 30 x 8 run (range 212-237).
TEST(GenerationalTest, CompatTrainsAbout225GenomesLikeTheOriginal) {
  GenerationalOptions compat;
  compat.deepevolve_compat = true;
  double total = 0;
  const int kSeeds = 400;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    GenerationalStrategy s = Make("cifar10_cnn", compat);
    auto trained = RunToCompletion(s, RandomFitness{std::mt19937_64(seed * 7919)}, seed);
    EXPECT_GE(trained.size(), 205u);
    EXPECT_LE(trained.size(), 245u);
    total += trained.size();
  }
  const double mean = total / kSeeds;
  EXPECT_NEAR(mean, 225.6, 2.0);
  RecordProperty("compat_mean_trained", std::to_string(mean));
}

// The default mode keeps lucky losers instead of retraining mutants of them, and holds
// the population at 30: 30 + 7 x (26 x 0.9) = 193.8 expected. README states the figure.
TEST(GenerationalTest, DefaultModeTrainsAbout194Genomes) {
  double total = 0;
  const int kSeeds = 400;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    GenerationalStrategy s = Make("cifar10_cnn");
    total += RunToCompletion(s, RandomFitness{std::mt19937_64(seed * 104729)}, seed).size();
  }
  const double mean = total / kSeeds;
  EXPECT_NEAR(mean, 193.8, 2.0);
  RecordProperty("default_mean_trained", std::to_string(mean));
  std::cout << "default mode: " << mean << " genomes trained on average\n";
}

TEST(GenerationalTest, CompatNeverPicksTheLastOfThePoolAsParent) {
  // With random_select 0 the pool is the four elites in fitness order; the original's
  // range(n - 1) leaves the fourth out. The fixed mode uses it.
  for (bool compat : {true, false}) {
    GenerationalOptions o;
    o.random_select = 0;
    o.generations = 2;
    o.deepevolve_compat = compat;
    bool fourth_was_parent = false;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      GenerationalStrategy s = Make("cifar10_mlp", o);
      std::vector<Member> first_generation;
      auto trained = RunToCompletion(s, RandomFitness{std::mt19937_64(seed)}, seed);
      std::vector<Trained> gen1(trained.begin(), trained.begin() + 30);
      std::stable_sort(gen1.begin(), gen1.end(), [](const Trained& a, const Trained& b) {
        return a.fitness.accuracy > b.fitness.accuracy;
      });
      const int64_t fourth = gen1[3].candidate.uid;
      for (size_t i = 30; i < trained.size(); ++i) {
        const auto& p = trained[i].candidate.parents;
        if (p[0] == fourth || p[1] == fourth) fourth_was_parent = true;
      }
    }
    EXPECT_EQ(fourth_was_parent, !compat) << (compat ? "compat" : "fixed");
  }
}

TEST(GenerationalTest, CompatLuckyLosersKeepTheirIdAndAreRetrained) {
  GenerationalOptions o;
  o.deepevolve_compat = true;
  o.random_select = 1.0;  // every loser is "lucky"
  o.generations = 2;
  GenerationalStrategy s = Make("cifar10_mlp", o);
  auto trained = RunToCompletion(s, RandomFitness{std::mt19937_64(3)}, 3);
  // Generation 2: 26 mutated copies keep a generation-1 uid; no children are needed.
  ASSERT_EQ(trained.size(), 56u);
  std::set<int64_t> first_uids;
  for (size_t i = 0; i < 30; ++i) first_uids.insert(trained[i].candidate.uid);
  for (size_t i = 30; i < trained.size(); ++i) {
    EXPECT_TRUE(first_uids.count(trained[i].candidate.uid));
  }
  // Elites keep their birth generation in compat mode.
  for (const Member& m : s.Population()) {
    if (m.fitness && m.candidate.id <= 30 && first_uids.count(m.candidate.uid) &&
        m.candidate.id == m.candidate.uid) {
      EXPECT_EQ(m.candidate.generation, 1);
    }
  }
}

TEST(GenerationalTest, FixedModeKeepsLuckyLosersAsTheyAre) {
  GenerationalOptions o;
  o.random_select = 1.0;
  o.generations = 2;
  GenerationalStrategy s = Make("cifar10_mlp", o);
  auto trained = RunToCompletion(s, RandomFitness{std::mt19937_64(3)}, 3);
  EXPECT_EQ(trained.size(), 30u);  // everyone kept with their fitness: nothing to train
}

TEST(GenerationalTest, CompatRaisesWhereTheOriginalDidOnASmallPool) {
  GenerationalOptions o;
  o.population = 10;  // floor(1.5) = 1 elite
  o.random_select = 0;
  o.deepevolve_compat = true;
  GenerationalStrategy s = Make("mnist_mlp", o);
  std::mt19937_64 rng(1);
  auto first = s.Next(100, rng);
  ASSERT_TRUE(first.ok());
  for (const Candidate& c : *first) ASSERT_TRUE(s.Report(c.id, {true, 0.5}).ok());
  EXPECT_EQ(s.Next(100, rng).status().code(), absl::StatusCode::kFailedPrecondition);

  o.deepevolve_compat = false;  // fixed: two elites at least
  GenerationalStrategy fixed = Make("mnist_mlp", o);
  auto trained = RunToCompletion(fixed, StructuredFitness, 1);
  EXPECT_EQ(trained.size(), 10u + 7u * 8u);
}

TEST(GenerationalTest, ReportErrors) {
  GenerationalStrategy s = Make("mnist_mlp");
  std::mt19937_64 rng(1);
  auto next = s.Next(2, rng);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(s.Report(999, {true, 0.5}).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(s.Report((*next)[0].id, {true, 0.5}).ok());
  EXPECT_EQ(s.Report((*next)[0].id, {true, 0.5}).code(), absl::StatusCode::kFailedPrecondition);
}

// The fitness of the members a 2-generation search over mnist_cnn (no random
// selection) carries from its first generation into its second: its elites.
std::vector<Fitness> Elites(const std::function<Fitness(const genome::Genome&)>& fitness) {
  GenerationalOptions o;
  o.generations = 2;
  o.random_select = 0;
  GenerationalStrategy s = Make("mnist_cnn", o);
  RunToCompletion(s, fitness, 11);
  std::vector<Fitness> elites;
  for (const Member& m : s.Population()) {
    if (m.candidate.generation == 2 && m.fitness && m.candidate.id <= 30) {
      elites.push_back(*m.fitness);
    }
  }
  return elites;
}

TEST(GenerationalTest, FailedGenomesRankBelowEverySuccess) {
  // 5-layer CNNs fail (the original crashed on them); they must never be elites.
  for (const Fitness& f : Elites([](const genome::Genome& g) {
         return g.choice[1] == 4 ? Fitness{false, 0} : Fitness{true, 0.001};
       })) {
    EXPECT_TRUE(f.ok);
  }
}

TEST(GenerationalTest, PrunedGenomesRankBelowEveryFullyTrainedOne) {
  // The pruner stopped the 5-layer CNNs at a high accuracy; fully trained genomes are
  // poorer. The elites are fully trained ones.
  const std::vector<Fitness> elites = Elites([](const genome::Genome& g) {
    return g.choice[1] == 4 ? Fitness{true, 0.9, /*pruned=*/true} : Fitness{true, 0.001};
  });
  EXPECT_FALSE(elites.empty());
  for (const Fitness& f : elites) EXPECT_FALSE(f.pruned);
}

TEST(FitnessTest, FullAbovePrunedAboveFailed) {
  EXPECT_GT((Fitness{true, 0.01}).rank(), (Fitness{true, 0.99, true}).rank());
  EXPECT_GT((Fitness{true, 0.0, true}).rank(), (Fitness{false, 0}).rank());
  EXPECT_GT((Fitness{true, 0.5, true}).rank(), (Fitness{true, 0.4, true}).rank());
}

}  // namespace
}  // namespace deepevolve::ga
