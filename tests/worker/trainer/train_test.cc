// Short real trainings on the Fashion-MNIST images Debian ships.
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/trainer/trials.h"
#include "worker/trainer/trainer.h"

namespace deepevolve::trainer {
namespace {

using trials::CpuTrainer;
using trials::Genome;
using trials::Task;

// An epoch callback that keeps every epoch's progress and lets training go on.
EpochCallback Collect(std::vector<EpochProgress>* epochs) {
  return [epochs](const EpochProgress& p) {
    epochs->push_back(p);
    return AfterEpoch::kContinue;
  };
}

TEST(TrainTest, AnMlpLearnsFashionMnistWellAboveChance) {
  auto trainer = CpuTrainer();
  std::vector<EpochProgress> epochs;
  auto r = trainer->Train(Genome(128, 1, "relu", "adam"), Task("fashion_mnist_mlp", 8000, 2), 1,
                          Collect(&epochs));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_GT(r->accuracy, 0.7);
  EXPECT_GT(r->test_accuracy, 0.7);
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[1].epoch, 2);
  EXPECT_LT(epochs[1].loss, epochs[0].loss);
  EXPECT_EQ(epochs[1].val_accuracy, r->accuracy);
}

TEST(TrainTest, ACnnLearnsToo) {
  auto trainer = CpuTrainer();
  auto r = trainer->Train(Genome(16, 2, "relu", "adam"), Task("fashion_mnist_cnn", 10000, 2), 2);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_GT(r->accuracy, 0.5);
}

TEST(TrainTest, SameSeedSameResultOnCpu) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = Task("fashion_mnist_mlp", 3000, 1);
  auto a = trainer->Train(Genome(64, 2, "tanh", "nadam"), task, 42);
  auto b = trainer->Train(Genome(64, 2, "tanh", "nadam"), task, 42);
  auto c = trainer->Train(Genome(64, 2, "tanh", "nadam"), task, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->accuracy, b->accuracy);
  EXPECT_EQ(a->test_accuracy, b->test_accuracy);
  EXPECT_NE(a->test_accuracy, c->test_accuracy);
}

// What multi-objective searches rank by, beside accuracy (genome/metrics.h).
TEST(TrainTest, TheResultSaysTheNetworksSizeAndSpeed) {
  auto trainer = CpuTrainer();
  auto r = trainer->Train(Genome(64, 2, "relu", "adam"), Task("fashion_mnist_mlp", 2000, 2), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  // 784 -> 64 -> 64 -> 10, weights and biases; float32, no batch-norm statistics.
  const double params = (784 * 64 + 64) + (64 * 64 + 64) + (64 * 10 + 10);
  EXPECT_EQ(r->metrics.at("params"), params);
  EXPECT_EQ(r->metrics.at("model_bytes"), 4 * params);
  EXPECT_GT(r->metrics.at("epoch_seconds"), 0);
  EXPECT_LE(2 * r->metrics.at("epoch_seconds"), r->train_seconds);
  EXPECT_GT(r->metrics.at("latency_ms"), 0);
  EXPECT_LT(r->metrics.at("latency_ms"), 1000);
  EXPECT_THAT(genome::CheckMetrics(r->metrics), ::testing::Eq(absl::OkStatus()));
}

TEST(TrainTest, ACollapsingCnnIsAFailedTrialNotACrash) {
  auto trainer = CpuTrainer();
  auto r = trainer->Train(Genome(16, 5, "relu", "adam"), Task("fashion_mnist_cnn", 1000, 1), 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("conv layer 5 gets 2x2"), std::string::npos) << r->error;
}

// Refused before anything is allocated: the kernel's OOM killer would otherwise end
// the worker. An error (the device's limit), not a failed genome.
TEST(TrainTest, AGenomeTooLargeForThisMachineIsRefusedWithItsSize) {
  auto trainer = CpuTrainer();
  auto r = trainer->Train(Genome(65536, 64, "relu", "adam"), Task("fashion_mnist_mlp", 1000, 1), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("GiB to train"));
}

TEST(TrainTest, CompatValidatesOnTheTestSet) {
  auto trainer = CpuTrainer();
  v1::TaskSpec task = Task("fashion_mnist_mlp", 2000, 1);
  task.set_validation(v1::TEST_SET);
  auto r = trainer->Train(Genome(64, 1, "relu", "adam"), task, 1);
  ASSERT_TRUE(r.ok() && r->ok);
  EXPECT_EQ(r->accuracy, r->test_accuracy);
}

TEST(TrainTest, CancelStopsAfterTheEpoch) {
  auto trainer = CpuTrainer();
  auto r = trainer->Train(Genome(64, 1, "relu", "adam"), Task("fashion_mnist_mlp", 2000, 3), 1,
                          [](const EpochProgress&) { return AfterEpoch::kCancel; });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
}

// A pruned genome: told to stop after epoch 1 of 3, the result is epoch 1's, with the
// test accuracy of its weights, and the saved model is those weights.
TEST(TrainTest, StopEndsTrainingWithTheResultSoFar) {
  auto trainer = CpuTrainer();
  const std::string path = ::testing::TempDir() + "/stopped_test.pt";
  std::vector<EpochProgress> epochs;
  auto r = trainer->Train(
      Genome(64, 1, "relu", "adam"), Task("fashion_mnist_mlp", 2000, 3), 1,
      [&](const EpochProgress& p) {
        epochs.push_back(p);
        return AfterEpoch::kStop;
      },
      path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  ASSERT_EQ(epochs.size(), 1u);
  EXPECT_EQ(r->epochs_run, 1);
  EXPECT_EQ(r->accuracy, epochs[0].val_accuracy);
  double recomputed = -1;
  ASSERT_TRUE(LoadModel(path, {}, &recomputed).ok());
  EXPECT_NEAR(recomputed, r->test_accuracy, 1e-9);
  std::filesystem::remove(path);
}

TEST(TrainTest, SavedModelLoadsWithItsMetadataAndSameAccuracy) {
  auto trainer = CpuTrainer();
  const std::string path = ::testing::TempDir() + "/model_test.pt";
  const v1::TaskSpec task = Task("fashion_mnist_mlp", 3000, 1);
  auto r = trainer->Train(Genome(64, 2, "relu", "rmsprop"), task, 5, nullptr, path);
  ASSERT_TRUE(r.ok() && r->ok);
  double recomputed = -1;
  auto saved = LoadModel(path, {}, &recomputed);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->task.SerializeAsString(), task.SerializeAsString());
  EXPECT_EQ(saved->genome.size(), 4u);
  EXPECT_DOUBLE_EQ(saved->test_accuracy, r->test_accuracy);
  EXPECT_NEAR(recomputed, r->test_accuracy, 1e-9);
  std::filesystem::remove(path);
  EXPECT_FALSE(LoadModel(path, {}).ok());
}

// restore_best_weights: the result is the epoch of lowest validation loss, and so is
// the saved model, even when later epochs overfit a small training set.
TEST(TrainTest, RestoreBestWeightsKeepsTheBestEpoch) {
  auto trainer = CpuTrainer();
  const std::string path = ::testing::TempDir() + "/restore_best_test.pt";
  const v1::TaskSpec task = trials::OverfittingTask(8);
  const genome::NamedGenome genome = trials::OverfittingMlp();
  std::vector<EpochProgress> epochs;
  auto r = trainer->Train(genome, task, 3, Collect(&epochs), path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  ASSERT_EQ(epochs.size(), 8u);
  size_t best = 0;
  for (size_t e = 1; e < epochs.size(); ++e) {
    if (epochs[e].val_loss < epochs[best].val_loss) best = e;
  }
  // The test means something only when the last epoch is not the best.
  ASSERT_LT(best + 1, epochs.size()) << "the last epoch was the best";
  EXPECT_EQ(r->epochs_run, 8);
  EXPECT_EQ(r->accuracy, epochs[best].val_accuracy);
  double recomputed = -1;
  auto saved = LoadModel(path, {}, &recomputed);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_NEAR(recomputed, r->test_accuracy, 1e-9);
  std::filesystem::remove(path);
}

// The learning_rate gene trains: a rate far above sgd's default learns in the epoch
// where the default barely moves, and the saved model keeps the gene as a number.
TEST(TrainTest, TheLearningRateGeneSetsTheOptimizersRate) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = Task("fashion_mnist_mlp", 3000, 1);
  genome::NamedGenome fast = Genome(64, 1, "relu", "sgd");
  fast.emplace_back("learning_rate", 0.1);
  const std::string path = ::testing::TempDir() + "/lr_model_test.pt";
  auto quick = trainer->Train(fast, task, 3, nullptr, path);
  auto slow = trainer->Train(Genome(64, 1, "relu", "sgd"), task, 3);
  ASSERT_TRUE(quick.ok() && quick->ok) << quick.status();
  ASSERT_TRUE(slow.ok() && slow->ok);
  EXPECT_GT(quick->accuracy, slow->accuracy + 0.05)
      << "lr 0.1: " << quick->accuracy << ", Keras's 0.01: " << slow->accuracy;
  auto saved = LoadModel(path, {});
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_EQ(saved->genome.size(), 5u);
  bool found = false;
  for (const auto& [name, value] : saved->genome) {
    if (name != "learning_rate") continue;
    found = true;
    EXPECT_EQ(std::get<double>(value), 0.1);
  }
  EXPECT_TRUE(found);
  std::filesystem::remove(path);
}

// A CNN over the new genes trains, and its saved model (batch normalisation's running
// statistics included) evaluates to the same accuracy when loaded.
TEST(TrainTest, ACnnOverTheNewGenesTrainsAndItsModelLoads) {
  auto trainer = CpuTrainer();
  genome::NamedGenome genome = trials::NewGenesCnn(8, 16, 32);
  const std::string path = ::testing::TempDir() + "/new_genes.pt";
  std::vector<EpochProgress> epochs;
  auto r = trainer->Train(genome, Task("fashion_mnist_cnn", 3000, 2), 4, Collect(&epochs), path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_EQ(epochs.size(), 2u);
  EXPECT_GT(r->accuracy, 0.5);
  double recomputed = 0;
  auto saved = LoadModel(path, {}, &recomputed);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_NEAR(recomputed, r->test_accuracy, 1e-9);
  // The same genome with another batch size trains another way.
  genome.back() = {"learning_rate", 3e-3};
  genome[8] = {"batch_size", int64_t{256}};
  auto other = trainer->Train(genome, Task("fashion_mnist_cnn", 3000, 2), 4);
  ASSERT_TRUE(other.ok() && other->ok);
  EXPECT_NE(other->accuracy, r->accuracy);
}

TEST(TrainTest, MissingDatasetNamesTheDirectories) {
  TrainerOptions o;
  o.device = "cpu";
  auto trainer = *Trainer::Create(o);
  v1::TaskSpec task = Task("mnist_mlp", 100, 1);
  auto r = trainer->Train(Genome(64, 1, "relu", "adam"), task, 1);
  if (r.ok()) GTEST_SKIP() << "MNIST files are installed on this machine";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("dataset 'mnist'"), std::string::npos);
}

TEST(TrainerTest, DeviceStrings) {
  TrainerOptions o;
  o.device = "tpu";
  EXPECT_EQ(Trainer::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.device = "cpu";
  EXPECT_EQ((*Trainer::Create(o))->device(), "cpu");
  EXPECT_GE(AvailableCores(), 1);
}

TEST(OpenBlasTest, AsksForTheBestKernelTheCpuHas) {
  // OpenBLAS's fallback on CPUs it does not recognise.
  EXPECT_EQ(BetterOpenBlasCore("Prescott", /*avx512=*/true, /*avx2_fma=*/true), "SkylakeX");
  EXPECT_EQ(BetterOpenBlasCore("Prescott", false, true), "Haswell");
  EXPECT_EQ(BetterOpenBlasCore("Sandybridge", false, true), "Haswell");
  EXPECT_EQ(BetterOpenBlasCore("Prescott", false, false), "");
  // Already as good as the CPU allows.
  EXPECT_EQ(BetterOpenBlasCore("Cooperlake", true, true), "");
  EXPECT_EQ(BetterOpenBlasCore("SkylakeX", true, true), "");
  EXPECT_EQ(BetterOpenBlasCore("Zen", false, true), "");
  EXPECT_EQ(BetterOpenBlasCore("Haswell", false, true), "");
  // Not OpenBLAS.
  EXPECT_EQ(BetterOpenBlasCore("", true, true), "");
}

TEST(OpenBlasTest, LoadedBlasMatchesTheReference) {
  // Whatever kernel this process runs (OPENBLAS_CORETYPE may be set), its sgemm is right.
  EXPECT_TRUE(BlasMatchesReference()) << "kernel " << OpenBlasCore();
}

}  // namespace
}  // namespace deepevolve::trainer
