#include "worker/daemon/trial_runner.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::worker {
namespace {

using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::testing::HasSubstr;

// A runner that says who it is through the accuracy, and asks once for progress.
class NamedRunner : public TrialRunner {
 public:
  explicit NamedRunner(double accuracy) : accuracy_(accuracy) {}
  absl::StatusOr<genome::TrialResult> Run(const v1::Assignment&, const ProgressFn& progress,
                                          std::string* model, const genome::Checkpoints*) override {
    progress({1, 1, 0.5, accuracy_, 1, 0, {}, 0, {}, {}});
    if (model != nullptr) *model = "weights";
    genome::TrialResult r;
    r.accuracy = accuracy_;
    return r;
  }

 private:
  const double accuracy_;
};

v1::Assignment Assignment(const std::string& trainer) {
  v1::Assignment a;
  a.mutable_task()->set_trainer(trainer);
  a.add_gene_names("x");
  a.mutable_genome()->add_values()->set_int_value(3);
  a.add_gene_names("layer_2");
  a.mutable_genome()->add_values();  // inactive
  return a;
}

TEST(TrialRunnersTest, PicksTheRunnerOfTheTrainerTheSearchNames) {
  TrialRunners runners;
  runners.SetBuiltin(std::make_unique<NamedRunner>(0.1));
  ASSERT_THAT(runners.Add("toy@1", std::make_unique<NamedRunner>(0.2)), IsOk());
  ASSERT_THAT(runners.Add("cnn", std::make_unique<NamedRunner>(0.3)), IsOk());
  EXPECT_THAT(runners.Add("cnn", std::make_unique<NamedRunner>(0.4)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("cnn")));
  EXPECT_TRUE(runners.offers_builtin());
  EXPECT_EQ(runners.trainers(), (std::vector<std::string>{"toy@1", "cnn"}));
  int epochs = 0;
  const ProgressFn progress = [&](const EpochProgress&) {
    ++epochs;
    return AfterEpoch::kContinue;
  };
  std::string model;
  EXPECT_DOUBLE_EQ(runners.Run(Assignment(""), progress, &model, nullptr)->accuracy, 0.1);
  EXPECT_EQ(model, "weights");
  EXPECT_DOUBLE_EQ(runners.Run(Assignment("toy@1"), progress, nullptr, nullptr)->accuracy, 0.2);
  EXPECT_DOUBLE_EQ(runners.Run(Assignment("cnn"), progress, nullptr, nullptr)->accuracy, 0.3);
  EXPECT_EQ(epochs, 3);
  EXPECT_THAT(
      runners.Run(Assignment("toy@2"), progress, nullptr, nullptr),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("does not offer trainer toy@2")));

  TrialRunners programs_only;
  ASSERT_THAT(programs_only.Add("toy", std::make_unique<NamedRunner>(0.2)), IsOk());
  EXPECT_FALSE(programs_only.offers_builtin());
  EXPECT_THAT(programs_only.Run(Assignment(""), progress, nullptr, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("built-in trainer")));
}

TEST(AssignedGenomeTest, PairsNamesWithValuesAndLeavesInactiveGenesOut) {
  absl::StatusOr<genome::NamedGenome> g = AssignedGenome(Assignment(""));
  ASSERT_THAT(g, IsOk());
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].first, "x");
  EXPECT_EQ(std::get<int64_t>((*g)[0].second), 3);
  v1::Assignment broken = Assignment("");
  broken.add_gene_names("y");
  EXPECT_THAT(AssignedGenome(broken),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 genes for 2 values")));
}

// The program runner gives each trial the threads it is told as the trial starts.
TEST(ProgramRunnerTest, RunsTheProgramWithTheThreadsOfTheMoment) {
  ::deepevolve::testing::TempDir dir;
  ProgramOptions options;
  options.work_root = dir.path().string();
  int threads = 3;
  ProgramRunner runner(
      {"toy", R"(echo "{\"accuracy\": 0.$OMP_NUM_THREADS, \"test_accuracy\": 0.1}")"}, options,
      [&] { return threads; });
  const ProgressFn progress = [](const EpochProgress&) { return AfterEpoch::kContinue; };
  absl::StatusOr<genome::TrialResult> r = runner.Run(Assignment("toy"), progress, nullptr, nullptr);
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_DOUBLE_EQ(r->accuracy, 0.3);
  threads = 2;
  EXPECT_DOUBLE_EQ(runner.Run(Assignment("toy"), progress, nullptr, nullptr)->accuracy, 0.2);
}

}  // namespace
}  // namespace deepevolve::worker
