#include "cli/spec_flags.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace deepevolve::cli {
namespace {

using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(SpecFlagsTest, FlagsSetTheirStrategysFields) {
  SpecFlags f;
  f.population = 12;
  f.generations = 4;
  auto spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->preset(), "fashion_mnist_mlp");
  EXPECT_EQ(spec->generational().population(), 12);
  EXPECT_EQ(spec->generational().generations(), 4);

  f = SpecFlags();
  f.strategy = "steady_state";
  f.population = 10;
  f.trials = 50;
  spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->steady_state().population(), 10);
  EXPECT_EQ(spec->steady_state().trials(), 50);
  EXPECT_FALSE(spec->has_generational());

  f = SpecFlags();
  f.strategy = "guided";
  f.population = 16;
  f.trials = 90;
  spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->guided().population(), 16);
  EXPECT_EQ(spec->guided().trials(), 90);
  EXPECT_FALSE(spec->has_generational());

  f = SpecFlags();
  f.strategy = "grid";
  f.trials = 20;
  spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->grid().trials(), 20);
}

TEST(SpecFlagsTest, AFlagThatDoesNotApplyIsRefusedNotTakenForAnotherStrategy) {
  SpecFlags f;
  f.strategy = "grid";
  f.population = 12;
  EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                         AllOf(HasSubstr("--population"), HasSubstr("grid"))));
  f = SpecFlags();
  f.strategy = "random";
  f.population = 12;
  EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                         AllOf(HasSubstr("--population"), HasSubstr("random"))));
  f = SpecFlags();
  f.strategy = "steady_state";
  f.generations = 3;
  EXPECT_THAT(SpecFromFlags(f),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--generations"), HasSubstr("steady_state"))));
  f = SpecFlags();
  f.trials = 100;  // the default strategy is generational
  EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                         AllOf(HasSubstr("--trials"), HasSubstr("generational"))));
  f = SpecFlags();
  f.strategy = "annealing";
  EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("unknown --strategy 'annealing'")));
}

TEST(SpecFlagsTest, CheckpointEverySaysEpochsSecondsOrNone) {
  SpecFlags f;
  f.checkpoint_every = "3";
  EXPECT_EQ(SpecFromFlags(f)->checkpoint().every_epochs(), 3);
  f.checkpoint_every = "90s";
  auto spec = SpecFromFlags(f);
  EXPECT_EQ(spec->checkpoint().every_seconds(), 90);
  EXPECT_EQ(spec->checkpoint().every_epochs(), 0);
  f.checkpoint_every = "none";
  EXPECT_TRUE(SpecFromFlags(f)->checkpoint().disabled());
  for (const char* bad : {"0", "-2", "s", "1.5", "soon"}) {
    f.checkpoint_every = bad;
    EXPECT_THAT(SpecFromFlags(f),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("N (every N epochs), Ns")))
        << bad;
  }
  // A spec file says it as checkpoint: {...}.
  const std::string path = ::testing::TempDir() + "/checkpointed.yaml";
  std::ofstream(path) << "preset: fashion_mnist_mlp\ncheckpoint: {every_epochs: 2}\n";
  f = SpecFlags();
  f.spec_file = path;
  EXPECT_EQ(SpecFromFlags(f)->checkpoint().every_epochs(), 2);
}

TEST(SpecFlagsTest, WarmStartNamesASearchAndHowMany) {
  SpecFlags f;
  f.warm_start = "12:5";
  auto spec = SpecFromFlags(f);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->warm_start().search_id(), 12);
  EXPECT_EQ(spec->warm_start().best(), 5);
  f.warm_start = "12";
  EXPECT_EQ(SpecFromFlags(f)->warm_start().best(), 0);  // the master's default
  for (const char* bad : {"x", "12:", "0", "12:0", "1:2:3", "-4"}) {
    f.warm_start = bad;
    auto refused = SpecFromFlags(f);
    EXPECT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("--warm-start"), std::string::npos) << bad;
  }
}

TEST(SpecFlagsTest, PrunerFlagOverTheSpecFile) {
  SpecFlags f;
  f.pruner = "asha";
  auto spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  EXPECT_TRUE(spec->pruner().has_asha());
  f.pruner = "median";
  EXPECT_TRUE(SpecFromFlags(f)->pruner().has_median());
  f.pruner = "none";
  EXPECT_FALSE(SpecFromFlags(f)->has_pruner());
  f.pruner = "hyperband";
  EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("unknown --pruner 'hyperband'")));

  // A spec file's settings for the pruner the flag names stay.
  const std::string path = ::testing::TempDir() + "/pruned.yaml";
  std::ofstream(path) << "preset: fashion_mnist_mlp\npruner: {asha: {reduction_factor: 4}}\n";
  f = SpecFlags();
  f.spec_file = path;
  f.pruner = "asha";
  spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->pruner().asha().reduction_factor(), 4);
  f.pruner = "median";
  EXPECT_FALSE(SpecFromFlags(f)->pruner().has_asha());
}

TEST(SpecFlagsTest, ObjectivesAndConstraintsFromFlagsReplaceTheSpecFiles) {
  const std::string path = ::testing::TempDir() + "/objectives.yaml";
  std::ofstream(path) << "preset: fashion_mnist_mlp\n"
                         "objectives: [{metric: accuracy, goal: maximize}]\n"
                         "constraints: [{metric: params, max: 2.0e6}]\n";
  SpecFlags f;
  f.spec_file = path;
  auto spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  ASSERT_EQ(spec->objectives_size(), 1);
  EXPECT_EQ(spec->constraints(0).max(), 2.0e6);
  f.objectives = {"accuracy:max", "latency_ms:min"};
  f.constraints = {"params<=1e6", "test_accuracy >= 0.5"};
  spec = SpecFromFlags(f);
  ASSERT_THAT(spec, IsOk());
  ASSERT_EQ(spec->objectives_size(), 2);
  EXPECT_EQ(spec->objectives(1).metric(), "latency_ms");
  EXPECT_EQ(spec->objectives(1).goal(), "min");  // written out by spec resolution
  ASSERT_EQ(spec->constraints_size(), 2);
  EXPECT_EQ(spec->constraints(0).metric(), "params");
  EXPECT_EQ(spec->constraints(0).max(), 1e6);
  EXPECT_FALSE(spec->constraints(0).has_min());
  EXPECT_EQ(spec->constraints(1).metric(), "test_accuracy");
  EXPECT_EQ(spec->constraints(1).min(), 0.5);
  for (const char* bad : {"accuracy", ":max", "accuracy:"}) {
    f.objectives = {bad};
    EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("write METRIC:max or METRIC:min")));
  }
  f.objectives.clear();
  for (const char* bad : {"params<1e6", "params<=lots", "<=5"}) {
    f.constraints = {bad};
    EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("write METRIC<=NUMBER or METRIC>=NUMBER")));
  }
}

TEST(SpecFlagsTest, AMissingSpecFileIsNamed) {
  SpecFlags f;
  f.spec_file = "/nonexistent/search.yaml";
  EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kNotFound, HasSubstr("search.yaml")));
}

}  // namespace
}  // namespace deepevolve::cli
