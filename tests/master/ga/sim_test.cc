#include "master/ga/sim.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/ga/operators.h"
#include "master/ga/spec.h"
#include "tests/master/ga/test_util.h"
#include "tests/testing/objectives.h"

namespace deepevolve::ga {
namespace {

using ::testing::HasSubstr;

// A full table of the mnist_mlp space with one clear optimum; with `curves`, each
// genome's 4-epoch curve rising to its accuracy, genomes in the same order at every epoch.
std::string MnistMlpTable(bool curves = false) {
  genome::SearchSpace space = testing::PresetSpace("mnist_mlp");
  std::ostringstream csv;
  csv << "nb_neurons,nb_layers,activation,optimizer,accuracy,status" << (curves ? ",curve" : "")
      << "\n";
  for (uint64_t i = 0; i < space.size(); ++i) {
    genome::Genome g = GridGenome(space, i);
    double acc = 0.5 + 0.05 * g.choice[0] + 0.02 * g.choice[1] + (g.choice[3] == 1 ? 0.2 : 0) +
                 (g.choice[2] == 0 ? 0.1 : 0);
    const bool failed = g.choice[1] == 4 && g.choice[2] == 6;
    for (int k = 0; k < space.num_genes(); ++k) {
      csv << genome::GeneValueToString(space.value(k, g.choice[k])) << ",";
    }
    csv << (failed ? "" : std::to_string(acc)) << "," << (failed ? "failed" : "ok");
    if (curves) {
      csv << ",";
      if (!failed) csv << acc - 0.15 << ";" << acc - 0.1 << ";" << acc - 0.05 << ";" << acc;
    }
    csv << "\n";
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
          csv << ",\"a, quoted\nerror\"";
        } else if (c == "curve") {
          csv << ",0.4;" << 0.5 + 0.1 * id;
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
  EXPECT_EQ(table->curves.size(), 4u);
  EXPECT_EQ(table->epochs, 2);  // the curves', not epochs_run's
}

// A table of the newer genes: a width beyond nb_layers is inactive, its cell empty.
TEST(FitnessTableTest, AnEmptyCellIsAnInactiveGene) {
  auto table = ParseFitnessTable(
      "nb_layers,nb_neurons_1,nb_neurons_2,accuracy,curve\n"
      "1,64,,0.81,0.7;0.81\n"
      "2,64,32,0.83,0.72;0.83\n"
      "2,128,64,0.85,0.74;0.85\n"
      "1,128,,0.82,0.71;0.82\n",
      "t.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->fitness.size(), 4u);
  EXPECT_EQ(table->space.size(), 2u + 2u * 2u);  // 1 layer: 2 widths; 2 layers: 2 x 2
  EXPECT_EQ(table->epochs, 2);
}

// A grid's genomes.csv writes a real gene's whole values without a point (dropout "0"
// beside "0.3"): the column is one of reals, for a trainer's gene and for any other.
TEST(FitnessTableTest, AWholeNumberInAColumnOfRealsIsAReal) {
  auto table = ParseFitnessTable(
      "dropout,weight_decay,accuracy\n"
      "0,0,0.81\n"
      "0.3,0,0.83\n"
      "0,1e-05,0.82\n"
      "0.3,1e-05,0.84\n",
      "t.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->fitness.size(), 4u);
  EXPECT_EQ(table->space.value(0, 0), genome::GeneValue(0.0));
  EXPECT_EQ(table->space.value(0, 1), genome::GeneValue(0.3));

  auto free_genes = ParseFitnessTable("x,g,accuracy\n0,a,0.5\n0.5,a,0.6\n0.0,b,0.7\n", "t.csv");
  ASSERT_TRUE(free_genes.ok()) << free_genes.status();
  EXPECT_EQ(free_genes->space.gene(0).values.size(), 2u);  // "0" and "0.0" are one value
  EXPECT_EQ(free_genes->fitness.size(), 3u);
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
  EXPECT_THAT(
      std::string(ParseFitnessTable("g,accuracy,curve\n1,0.5,0.4;x\n", "t.csv").status().message()),
      HasSubstr("line 2: curve point 'x'"));
  EXPECT_THAT(std::string(ParseFitnessTable("g,accuracy\n1,\"0.5\n", "t.csv").status().message()),
              HasSubstr("t.csv: line"));
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

// Accuracy against size on a table: a metric column read by name, and the share of the
// table's hypervolume found, which grows with evaluations and is whole once every row
// has been evaluated.
TEST(SimulateTest, SeveralObjectivesAreMeasuredByTheHypervolumeFound) {
  std::ostringstream csv;
  csv << "width,depth,accuracy,params\n";
  for (int w = 1; w <= 20; ++w) {
    for (int d = 1; d <= 10; ++d) {
      // Bigger is better, with diminishing returns and some noise.
      const double accuracy = 0.5 + 0.4 * (1 - 1.0 / (w * d)) - 0.01 * ((w * 7 + d * 3) % 5);
      csv << w << "," << d << "," << accuracy << "," << w * w * d << "\n";
    }
  }
  EXPECT_THAT(std::string(ParseFitnessTable(csv.str(), "t.csv", {"latency_ms"}).status().message()),
              HasSubstr("no 'latency_ms' column"));
  auto table = ParseFitnessTable(csv.str(), "t.csv", {"params"});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->space.num_genes(), 2);  // params is no gene
  for (const char* which : {"steady_state", "grid"}) {
    v1::SearchSpec spec;
    *spec.mutable_space() = table->space.ToProto();
    spec.mutable_task()->set_dataset("fashion_mnist");
    spec.mutable_task()->set_net(v1::MLP);
    if (std::string(which) == "steady_state") spec.mutable_steady_state()->set_trials(150);
    if (std::string(which) == "grid") spec.mutable_grid();
    ::deepevolve::testing::AccuracyAgainstParams(spec);
    auto resolved = ResolveSearchSpec(spec, genome::GeneNames::kAny);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    auto run = Simulate(*table, *resolved, 1.0, 7);
    ASSERT_TRUE(run.ok()) << which << ": " << run.status();
    EXPECT_FALSE(run->reached);
    ASSERT_EQ(run->hypervolume.size(), 3u);
    EXPECT_GT(run->hypervolume[0], 0) << which;
    EXPECT_LE(run->hypervolume[0], run->hypervolume[1]);
    EXPECT_LE(run->hypervolume[1], run->hypervolume[2]);
    EXPECT_LE(run->hypervolume[2], 1.0 + 1e-12);
    if (std::string(which) == "grid") {
      auto all = Simulate(*table, *resolved, 1.0, 7);
      EXPECT_EQ(all->evaluations, 200);
      EXPECT_DOUBLE_EQ(all->hypervolume[2], 1.0);  // every row by then
    }
  }
  v1::SearchSpec wrong;
  *wrong.mutable_space() = table->space.ToProto();
  wrong.mutable_task()->set_dataset("fashion_mnist");
  wrong.mutable_task()->set_net(v1::MLP);
  wrong.add_objectives()->set_metric("latency_ms");
  wrong.mutable_objectives(0)->set_goal("min");
  auto resolved = ResolveSearchSpec(wrong, genome::GeneNames::kAny);
  ASSERT_TRUE(resolved.ok());
  EXPECT_THAT(std::string(Simulate(*table, *resolved, 1.0, 7).status().message()),
              HasSubstr("the table has no 'latency_ms' column"));
}

v1::SearchSpec SimSpec(const genome::SearchSpace& space, const char* pruner) {
  v1::SearchSpec spec;
  *spec.mutable_space() = space.ToProto();
  spec.mutable_task()->set_dataset("fashion_mnist");
  spec.mutable_task()->set_net(v1::MLP);
  spec.mutable_random()->set_trials(490);
  if (std::string(pruner) == "asha") spec.mutable_pruner()->mutable_asha();
  if (std::string(pruner) == "median") spec.mutable_pruner()->mutable_median();
  return *ResolveSearchSpec(spec, genome::GeneNames::kAny);
}

TEST(SimulateTest, APrunerSavesEpochsAndStillReachesTheTarget) {
  auto table = ParseFitnessTable(MnistMlpTable(/*curves=*/true), "t.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->epochs, 4);
  const double target = table->best - 0.005;
  auto full = Simulate(*table, SimSpec(table->space, "none"), target, 7);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->pruned, 0);
  for (const char* pruner : {"asha", "median"}) {
    auto pruned = Simulate(*table, SimSpec(table->space, pruner), target, 7);
    ASSERT_TRUE(pruned.ok()) << pruned.status();
    EXPECT_TRUE(pruned->reached) << pruner;
    // Random search draws the same genomes: the pruner only shortens them.
    EXPECT_EQ(pruned->evaluations, full->evaluations) << pruner;
    EXPECT_GT(pruned->pruned, 0) << pruner;
    EXPECT_LT(pruned->epochs, full->epochs) << pruner;
  }
  // A table without curves cannot be pruned.
  auto flat = ParseFitnessTable(MnistMlpTable(), "t.csv");
  EXPECT_EQ(Simulate(*flat, SimSpec(flat->space, "asha"), target, 7).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Multi-objective ASHA in a simulation: each rung ranks the epoch's accuracy with the
// row's parameter count; it saves epochs, and the front is still found.
TEST(SimulateTest, MultiObjectiveAshaSavesEpochsAndFindsTheFront) {
  std::ostringstream csv;
  csv << "width,depth,accuracy,params,curve\n";
  for (int w = 1; w <= 20; ++w) {
    for (int d = 1; d <= 10; ++d) {
      const double accuracy = 0.5 + 0.4 * (1 - 1.0 / (w * d)) - 0.01 * ((w * 7 + d * 3) % 5);
      csv << w << "," << d << "," << accuracy << "," << w * w * d << "," << accuracy - 0.15 << ";"
          << accuracy - 0.1 << ";" << accuracy - 0.05 << ";" << accuracy << "\n";
    }
  }
  auto table = ParseFitnessTable(csv.str(), "t.csv", {"params"});
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<SimRun> runs;
  for (const char* pruner : {"none", "asha"}) {
    v1::SearchSpec spec;
    *spec.mutable_space() = table->space.ToProto();
    spec.mutable_task()->set_dataset("fashion_mnist");
    spec.mutable_task()->set_net(v1::MLP);
    spec.mutable_random()->set_trials(200);
    if (std::string(pruner) == "asha") spec.mutable_pruner()->mutable_asha();
    ::deepevolve::testing::AccuracyAgainstParams(spec);
    auto resolved = ResolveSearchSpec(spec, genome::GeneNames::kAny);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    auto run = Simulate(*table, *resolved, 1.0, 7);
    ASSERT_TRUE(run.ok()) << pruner << ": " << run.status();
    runs.push_back(*run);
  }
  EXPECT_EQ(runs[0].pruned, 0);
  EXPECT_GT(runs[1].pruned, 0);
  EXPECT_LT(runs[1].epochs, runs[0].epochs);
  // Random order, every genome: what the trials that went on cover is the front.
  EXPECT_DOUBLE_EQ(runs[0].hypervolume[2], 1.0);
  EXPECT_GT(runs[1].hypervolume[2], 0.9);
}

TEST(SimulateTest, ParallelWorkersReportOutOfOrder) {
  auto table = ParseFitnessTable(MnistMlpTable(/*curves=*/true), "t.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  const double target = table->best - 0.005;
  for (const char* which : {"steady_state", "guided", "generational"}) {
    v1::SearchSpec spec;
    *spec.mutable_space() = table->space.ToProto();
    spec.mutable_task()->set_dataset("fashion_mnist");
    spec.mutable_task()->set_net(v1::MLP);
    ASSERT_TRUE(SetStrategy(which, &spec).ok());
    spec.mutable_pruner()->mutable_asha();
    auto resolved = ResolveSearchSpec(spec, genome::GeneNames::kAny);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    auto one = Simulate(*table, *resolved, target, 3, 1);
    auto eight = Simulate(*table, *resolved, target, 3, 8);
    ASSERT_TRUE(one.ok()) << which << ": " << one.status();
    ASSERT_TRUE(eight.ok()) << which << ": " << eight.status();
    EXPECT_TRUE(eight->reached) << which;
    // The same seed, the same run; more workers, another one (results in another order).
    EXPECT_EQ(Simulate(*table, *resolved, target, 3, 8)->evaluations, eight->evaluations);
    EXPECT_NE(std::make_pair(one->evaluations, one->epochs),
              std::make_pair(eight->evaluations, eight->epochs))
        << which;
  }
}

TEST(SimulateTest, ExpectedRandomOrderCost) {
  EXPECT_DOUBLE_EQ(ExpectedRandomOrderCost(490, 0), 491.0);
  EXPECT_DOUBLE_EQ(ExpectedRandomOrderCost(489, 1), 245.0);
}

}  // namespace
}  // namespace deepevolve::ga
