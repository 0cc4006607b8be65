// The built-in trainer behind the trial runner's seam, on real Fashion-MNIST images.
#include "worker/builtin_runner.h"

#include "gtest/gtest.h"
#include "tests/worker/trainer/trials.h"

namespace deepevolve::worker {
namespace {

TEST(BuiltinRunnerTest, TrainsTheAssignmentReportsEachEpochAndReturnsTheModel) {
  trainer::TrainerOptions o;
  o.device = "cpu";
  auto trainer = trainer::Trainer::Create(o);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  int asked = 0;
  BuiltinRunner runner(trainer->get(), [&] {
    ++asked;
    return 1;
  });
  v1::Assignment a;
  *a.mutable_task() = trainer::trials::Task("fashion_mnist_mlp", 2000, 2);
  a.set_seed(7);
  for (const auto& [name, value] : trainer::trials::Genome(64, 1, "relu", "adam")) {
    a.add_gene_names(name);
    *a.mutable_genome()->add_values() = genome::GeneValueToProto(value);
  }
  std::vector<EpochProgress> epochs;
  std::string model;
  absl::StatusOr<genome::TrialResult> r = runner.Run(
      a,
      [&](const EpochProgress& e) {
        epochs.push_back(e);
        return AfterEpoch::kContinue;
      },
      &model, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_EQ(r->epochs_run, 2);
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[1].epoch, 2);
  EXPECT_EQ(epochs[1].val_accuracy, r->accuracy);
  // Each epoch carries what is known from the start and the epochs' mean time so far.
  for (const EpochProgress& e : epochs) {
    EXPECT_EQ(e.metrics.at("params"), r->metrics.at("params"));
    EXPECT_EQ(e.metrics.at("model_bytes"), r->metrics.at("model_bytes"));
    EXPECT_EQ(e.metrics.at("latency_ms"), r->metrics.at("latency_ms"));
    EXPECT_GT(e.metrics.at("epoch_seconds"), 0);
  }
  EXPECT_GT(model.size(), 1000u);
  EXPECT_EQ(asked, 1);

  // The master's stop after the first epoch: the result so far.
  r = runner.Run(
      a, [](const EpochProgress&) { return AfterEpoch::kStop; }, nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->epochs_run, 1);
}

}  // namespace
}  // namespace deepevolve::worker
