#include "cli/commands.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cli/spec_flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deepevolve::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HashCommandTest, PrintsTheDeepEvolveMd5) {
  std::ostringstream out, err;
  EXPECT_EQ(RunHash({"nb_neurons=64", "activation=relu", "nb_layers=2", "optimizer=adam"}, false,
                    out, err),
            0);
  EXPECT_EQ(out.str(), "53e7608376c791312050ef5ab4b95bf9\n");
}

TEST(HashCommandTest, RejectsMalformedAssignments) {
  std::ostringstream out, err;
  EXPECT_EQ(RunHash({"nb_neurons"}, false, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("'nb_neurons' is not name=value"));
  EXPECT_EQ(RunHash({"a=1", "a=2"}, false, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("given twice"));
}

TEST(PresetsCommandTest, ListsSpaceSizes) {
  std::ostringstream out;
  EXPECT_EQ(RunPresets(out), 0);
  EXPECT_THAT(out.str(), HasSubstr("cifar10_cnn"));
  EXPECT_THAT(out.str(), ::testing::ContainsRegex("cifar10_mlp +cifar10 +MLP +1470"));
  EXPECT_THAT(out.str(), ::testing::ContainsRegex("fashion_mnist_mlp +fashion_mnist +MLP +490"));
}

// Issue 33: `sim` and `local`/`submit` read one table of strategies, so they refuse a
// flag that does not apply to the strategy, and in the same words (sim used to ignore
// --population with random).
TEST(SimCommandTest, RefusesTheFlagsLocalRefusesInTheSameWords) {
  const std::string path = ::testing::TempDir() + "/sim_flags_table.csv";
  {
    std::ofstream f(path);
    f << "x,accuracy\n0,0.1\n1,0.2\n2,0.3\n";
  }
  struct Case {
    const char* strategy;
    int population, generations, trials;
  };
  for (const Case& c : {Case{"random", 50, 0, 0}, Case{"grid", 0, 3, 0},
                        Case{"steady_state", 0, 2, 0}, Case{"generational", 0, 0, 10}}) {
    SpecFlags f;
    f.strategy = c.strategy;
    f.population = c.population;
    f.generations = c.generations;
    f.trials = c.trials;
    const absl::StatusOr<v1::SearchSpec> local = SpecFromFlags(f);
    ASSERT_FALSE(local.ok()) << c.strategy;
    SimOptions o;
    o.table_path = path;
    o.strategy = c.strategy;
    o.population = c.population;
    o.generations = c.generations;
    o.trials = c.trials;
    o.seeds = 1;
    std::ostringstream out, err;
    EXPECT_EQ(RunSim(o, out, err), 2) << c.strategy;
    EXPECT_EQ(err.str(), absl::StrCat("deepevolve sim: ", local.status().message(), "\n"));
    EXPECT_THAT(err.str(), HasSubstr("does not apply to the"));
  }
}

TEST(SimCommandTest, ReportsMedianAndP90) {
  const std::string path = ::testing::TempDir() + "/sim_table.csv";
  {
    std::ofstream f(path);
    f << "x,y,accuracy\n";
    for (int x = 0; x < 10; ++x)
      for (int y = 0; y < 10; ++y) f << x << "," << y << "," << (x * 10 + y) / 100.0 << "\n";
  }
  SimOptions o;
  o.table_path = path;
  o.strategy = "random";
  o.target = "best-0.025";  // the top three genomes
  o.seeds = 50;
  std::ostringstream out, err;
  ASSERT_EQ(RunSim(o, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("100 genomes, best 0.9900, target 0.9650 (3 genomes"));
  EXPECT_THAT(out.str(), HasSubstr("seed 1: "));
  EXPECT_THAT(out.str(), HasSubstr("reached in 50 of 50 seeds; median"));
  EXPECT_THAT(out.str(), HasSubstr("brute force: 98 in grid order, 25.2 expected in random order"));

  // No curves in this table: nothing for a pruner to decide on.
  o.pruner = "asha";
  EXPECT_EQ(RunSim(o, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("pruner.asha.min_epochs"));
  {
    std::ofstream f(path);
    f << "x,y,accuracy,curve\n";
    for (int x = 0; x < 10; ++x)
      for (int y = 0; y < 10; ++y) {
        const double a = (x * 10 + y) / 100.0;
        f << x << "," << y << "," << a << "," << a / 2 << ";" << a / 1.5 << ";" << a << "\n";
      }
  }
  out.str("");
  ASSERT_EQ(RunSim(o, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("pruned"));
  EXPECT_THAT(out.str(), HasSubstr("pruner asha: reached in 50 of 50 seeds"));
  o.pruner = "hyperband";
  EXPECT_EQ(RunSim(o, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("unknown --pruner 'hyperband'"));
  o.pruner = "none";

  o.strategy = "annealing";
  EXPECT_EQ(RunSim(o, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("unknown --strategy 'annealing'"));
  o.strategy = "random";
  o.table_path = path + ".missing";
  EXPECT_EQ(RunSim(o, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("cannot open table"));
  std::remove(path.c_str());
}

// A warm start from a neighbouring table (the same genes, every accuracy halved: the same
// order): a warm-up that saw all of it begins the search with the best genomes, so the
// first evaluation reaches the target in every seed; its epochs are counted beside.
TEST(SimCommandTest, AWarmStartBeginsWithTheNeighbouringTablesBest) {
  const std::string path = ::testing::TempDir() + "/sim_main.csv";
  const std::string warm = ::testing::TempDir() + "/sim_warm.csv";
  for (const auto& [file, scale] : {std::pair{path, 100.0}, std::pair{warm, 200.0}}) {
    std::ofstream f(file);
    f << "x,y,accuracy\n";
    for (int x = 0; x < 10; ++x)
      for (int y = 0; y < 10; ++y) f << x << "," << y << "," << (x * 10 + y) / scale << "\n";
  }
  SimOptions o;
  o.table_path = path;
  o.strategy = "steady_state";
  o.population = 10;
  o.trials = 60;
  o.target = "best-0.025";
  o.seeds = 20;
  o.per_seed = false;
  std::ostringstream cold, out, err;
  ASSERT_EQ(RunSim(o, cold, err), 0) << err.str();
  EXPECT_THAT(cold.str(), Not(HasSubstr("median 1, p90 1 evaluations")));
  o.warm_table = warm;
  o.warm_trials = 100;
  o.warm_best = 3;
  ASSERT_EQ(RunSim(o, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("warm start: the best 3 of 100 genomes on " + warm));
  EXPECT_THAT(out.str(), HasSubstr("reached in 20 of 20 seeds; median 1, p90 1 evaluations"));
  EXPECT_THAT(out.str(), HasSubstr("with the warm-up search's epochs: median 101, p90 101 epochs"));
  o.warm_best = 0;
  EXPECT_EQ(RunSim(o, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("--warm-best"));
  std::remove(path.c_str());
  std::remove(warm.c_str());
}

}  // namespace
}  // namespace deepevolve::cli
