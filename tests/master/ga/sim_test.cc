#include "master/ga/sim.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/ga/operators.h"
#include "master/ga/spec.h"
#include "tests/master/ga/test_util.h"

namespace deepevolve::ga {
namespace {

using ::testing::HasSubstr;

// A full table of the mnist_mlp space with one clear optimum.
std::string MnistMlpTable() {
  genome::SearchSpace space = testing::PresetSpace("mnist_mlp");
  std::ostringstream csv;
  csv << "nb_neurons,nb_layers,activation,optimizer,accuracy,status\n";
  for (uint64_t i = 0; i < space.size(); ++i) {
    genome::Genome g = GridGenome(space, i);
    double acc = 0.5 + 0.05 * g.choice[0] + 0.02 * g.choice[1] + (g.choice[3] == 1 ? 0.2 : 0) +
                 (g.choice[2] == 0 ? 0.1 : 0);
    const bool failed = g.choice[1] == 4 && g.choice[2] == 6;
    for (int k = 0; k < space.num_genes(); ++k) {
      csv << genome::GeneValueToString(space.value(k, g.choice[k])) << ",";
    }
    csv << (failed ? "" : std::to_string(acc)) << "," << (failed ? "failed" : "ok") << "\n";
  }
  return csv.str();
}

TEST(FitnessTableTest, ParsesAGridTable) {
  auto table = ParseFitnessTable(MnistMlpTable(), "t.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->space.size(), 490u);
  EXPECT_EQ(table->fitness.size(), 490u);
  EXPECT_NEAR(table->best, 0.5 + 0.05 + 0.08 + 0.2 + 0.1, 1e-9);
  EXPECT_EQ(table->space.gene(0).name, "nb_neurons");
}

// The layout `deepevolve local` writes: genes, then every result column, with a worker
// and a seed column that hold one value each and must not be taken for genes.
TEST(FitnessTableTest, ParsesTheLayoutLocalWrites) {
  std::ostringstream csv;
  csv << "nb_neurons,optimizer";
  for (const std::string& c : ResultColumns()) csv << "," << c;
  csv << "\n";
  int id = 0;
  for (const char* neurons : {"64", "128"}) {
    for (const char* optimizer : {"adam", "sgd"}) {
      ++id;
      csv << neurons << "," << optimizer;
      for (const std::string& c : ResultColumns()) {
        if (c == "accuracy") {
          csv << "," << 0.5 + 0.1 * id;
        } else if (c == "status") {
          csv << ",ok";
        } else if (c == "worker") {
          csv << ",local-0";
        } else if (c == "error") {
          csv << ",";
        } else {
          csv << "," << id;
        }
      }
      csv << "\n";
    }
  }
  auto table = ParseFitnessTable(csv.str(), "genomes.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->space.num_genes(), 2);
  EXPECT_EQ(table->space.size(), 4u);
  EXPECT_NEAR(table->best, 0.9, 1e-9);
}

TEST(FitnessTableTest, BadTablesNameTheLine) {
  EXPECT_THAT(std::string(ParseFitnessTable("a,b\n1,2\n", "t.csv").status().message()),
              HasSubstr("no 'accuracy' column"));
  EXPECT_THAT(std::string(ParseFitnessTable("g,accuracy\n1,0.5\n2\n", "t.csv").status().message()),
              HasSubstr("t.csv: line 3: 1 cells where the header has 2"));
  EXPECT_THAT(
      std::string(ParseFitnessTable("g,accuracy\n1,0.5\n2,1.5\n", "t.csv").status().message()),
      HasSubstr("line 3: accuracy '1.5'"));
  EXPECT_THAT(
      std::string(
          ParseFitnessTable("g,accuracy\n1,0.5\n2,0.3\n1,0.4\n", "t.csv").status().message()),
      HasSubstr("appears twice"));
}

TEST(SimulateTest, EveryStrategyReachesTheTargetOnAFullTable) {
  auto table = ParseFitnessTable(MnistMlpTable(), "t.csv");
  ASSERT_TRUE(table.ok());
  for (const char* which : {"generational", "steady_state", "random", "grid"}) {
    v1::SearchSpec spec;
    *spec.mutable_space() = table->space.ToProto();
    spec.mutable_task()->set_dataset("fashion_mnist");
    spec.mutable_task()->set_net(v1::MLP);
    if (std::string(which) == "generational") spec.mutable_generational();
    if (std::string(which) == "steady_state") spec.mutable_steady_state();
    if (std::string(which) == "random") spec.mutable_random()->set_trials(490);
    if (std::string(which) == "grid") spec.mutable_grid();
    auto resolved = ResolveSearchSpec(spec, genome::GeneNames::kAny);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    auto run = Simulate(*table, *resolved, table->best - 0.005, 42);
    ASSERT_TRUE(run.ok()) << which << ": " << run.status();
    EXPECT_TRUE(run->reached) << which;
    EXPECT_GE(run->evaluations, 1);
    // The same seed gives the same run.
    EXPECT_EQ(Simulate(*table, *resolved, table->best - 0.005, 42)->evaluations, run->evaluations);
  }
}

TEST(SimulateTest, ExpectedRandomOrderCost) {
  EXPECT_DOUBLE_EQ(ExpectedRandomOrderCost(490, 0), 491.0);
  EXPECT_DOUBLE_EQ(ExpectedRandomOrderCost(489, 1), 245.0);
}

}  // namespace
}  // namespace deepevolve::ga
