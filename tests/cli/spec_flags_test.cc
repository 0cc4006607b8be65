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

TEST(SpecFlagsTest, AMissingSpecFileIsNamed) {
  SpecFlags f;
  f.spec_file = "/nonexistent/search.yaml";
  EXPECT_THAT(SpecFromFlags(f), StatusIs(absl::StatusCode::kNotFound, HasSubstr("search.yaml")));
}

}  // namespace
}  // namespace deepevolve::cli
