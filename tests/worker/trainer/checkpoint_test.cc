// Checkpoints of real trainings on the Fashion-MNIST images Debian ships: a training
// resumed from any epoch's checkpoint ends exactly as the uninterrupted one (on the
// CPU, same threads), and a checkpoint that cannot be used is not used.
#include <map>
#include <string>
#include <vector>

#include "genome/genome.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/trainer/trials.h"
#include "worker/trainer/trainer.h"

namespace deepevolve::trainer {
namespace {

using ::testing::HasSubstr;
using trials::CpuTrainer;
using trials::Genome;
using trials::Task;

// A training's epochs as it reported them, and the checkpoints that came with them.
struct Training {
  genome::TrialResult result;
  std::vector<EpochProgress> epochs;
  std::map<int, std::string> checkpoints;
};

Training Train(Trainer& trainer, const genome::NamedGenome& genome, const v1::TaskSpec& task,
               uint64_t seed, const CheckpointOptions& c) {
  Training run;
  auto r = trainer.Train(
      genome, task, seed,
      [&run](const EpochProgress& p) {
        if (!p.checkpoint.empty()) run.checkpoints[p.epoch] = p.checkpoint;
        run.epochs.push_back(p);
        return AfterEpoch::kContinue;
      },
      "", &c);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) run.result = *r;
  return run;
}

Training Train(Trainer& trainer, const genome::NamedGenome& genome, const v1::TaskSpec& task,
               uint64_t seed, const std::string& resume = "", int every_epochs = 1,
               double every_seconds = 0) {
  CheckpointOptions c;
  c.every_epochs = every_epochs;
  c.every_seconds = every_seconds;
  c.resume = resume;
  return Train(trainer, genome, task, seed, c);
}

// Every epoch's result after `from`, and the final result, are the uninterrupted run's
// (and the latency too, when `resumed` went on from `whole`'s own checkpoint: latency
// is measured once per training, and differs between two).
void ExpectSameTraining(const Training& whole, const Training& resumed, int from,
                        bool same_measurement = true) {
  ASSERT_EQ(resumed.epochs.size(), whole.epochs.size() - from);
  for (size_t i = 0; i < resumed.epochs.size(); ++i) {
    const EpochProgress& a = whole.epochs[from + i];
    const EpochProgress& b = resumed.epochs[i];
    EXPECT_EQ(b.epoch, a.epoch);
    EXPECT_EQ(b.loss, a.loss) << "epoch " << a.epoch;
    EXPECT_EQ(b.val_accuracy, a.val_accuracy) << "epoch " << a.epoch;
    EXPECT_EQ(b.val_loss, a.val_loss) << "epoch " << a.epoch;
    EXPECT_EQ(b.resumed_from_epoch, from);
    EXPECT_EQ(b.resume_error, "");
  }
  EXPECT_TRUE(resumed.result.ok);
  EXPECT_EQ(resumed.result.accuracy, whole.result.accuracy);
  EXPECT_EQ(resumed.result.test_accuracy, whole.result.test_accuracy);
  EXPECT_EQ(resumed.result.epochs_run, whole.result.epochs_run);
  // Measured once, before the first epoch: the resumed training keeps the measurement.
  if (same_measurement) {
    EXPECT_EQ(resumed.result.metrics.at("latency_ms"), whole.result.metrics.at("latency_ms"));
  }
  EXPECT_EQ(resumed.result.metrics.at("params"), whole.result.metrics.at("params"));
}

// Dropout, batch normalisation, a stateful optimizer (nadam's moments and schedule), a
// cosine schedule and early stopping that restores the best epoch's weights: each
// carries state from one epoch to the next.
genome::NamedGenome StatefulMlp() {
  return {{"nb_layers", int64_t{2}},
          {"nb_neurons_1", int64_t{128}},
          {"nb_neurons_2", int64_t{64}},
          {"activation", std::string("relu")},
          {"optimizer", std::string("nadam")},
          {"dropout", 0.2},
          {"batch_norm", std::string("true")},
          {"lr_schedule", std::string("cosine")},
          {"learning_rate", 0.003},
          {"batch_size", int64_t{64}}};
}

v1::TaskSpec StatefulTask() {
  v1::TaskSpec task = Task("fashion_mnist_mlp_full", 3000, 4);
  task.set_early_stop_patience(3);
  task.set_restore_best_weights(true);
  return task;
}

TEST(CheckpointTest, AnMlpResumedAfterAnyEpochEndsAsTheUninterruptedTraining) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = StatefulTask();
  const Training plain = Train(*trainer, StatefulMlp(), task, 7, "", /*every_epochs=*/0);
  const Training whole = Train(*trainer, StatefulMlp(), task, 7);
  ASSERT_EQ(whole.epochs.size(), 4u);
  // Saving changes nothing; it happens after every epoch, the last included (resumed
  // from, it leaves nothing to train but the result).
  EXPECT_TRUE(plain.checkpoints.empty());
  EXPECT_EQ(plain.result.accuracy, whole.result.accuracy);
  EXPECT_EQ(plain.result.test_accuracy, whole.result.test_accuracy);
  ASSERT_EQ(whole.checkpoints.size(), 4u);
  for (const auto& [epoch, bytes] : whole.checkpoints) {
    SCOPED_TRACE(::testing::Message() << "resumed after epoch " << epoch);
    const Training resumed = Train(*trainer, StatefulMlp(), task, 7, bytes);
    ExpectSameTraining(whole, resumed, epoch);
    // Its own checkpoints are the uninterrupted training's from there on.
    for (const auto& [later, again] : resumed.checkpoints) {
      EXPECT_GT(later, epoch);
      EXPECT_EQ(again.size(), whole.checkpoints.at(later).size());
    }
  }
}

// Augmentation draws from the trial's generator inside every batch: its state is in the
// checkpoint too.
TEST(CheckpointTest, ACnnWithAugmentationResumesExactly) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = Task("fashion_mnist_cnn_full", 1500, 3);
  const genome::NamedGenome genome = trials::NewGenesCnn(8, 8, 32);
  const Training whole = Train(*trainer, genome, task, 11);
  ASSERT_EQ(whole.checkpoints.count(2), 1u);
  ExpectSameTraining(whole, Train(*trainer, genome, task, 11, whole.checkpoints.at(2)), 2);
}

// The checkpoint of the epoch early stopping ended training at: resumed from (a worker
// lost before its report), it trains nothing and gives the same result.
TEST(CheckpointTest, ACheckpointAfterEarlyStoppingLeavesNothingToTrain) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = trials::OverfittingTask(1);
  const genome::NamedGenome genome = trials::OverfittingMlp();
  const Training whole = Train(*trainer, genome, task, 3);
  const int last = static_cast<int>(whole.epochs.size());
  ASSERT_LT(last, 8) << "early stopping did not end it";
  const Training resumed = Train(*trainer, genome, task, 3, whole.checkpoints.at(last));
  EXPECT_TRUE(resumed.epochs.empty());
  EXPECT_EQ(resumed.result.accuracy, whole.result.accuracy);
  EXPECT_EQ(resumed.result.test_accuracy, whole.result.test_accuracy);
  EXPECT_EQ(resumed.result.epochs_run, last);
}

TEST(CheckpointTest, ACorruptCheckpointIsNotResumedFromAndSaysWhy) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = Task("fashion_mnist_mlp", 2000, 2);
  const genome::NamedGenome genome = Genome(64, 1, "relu", "adam");
  const Training whole = Train(*trainer, genome, task, 5);
  ASSERT_EQ(whole.checkpoints.count(1), 1u);
  const std::string good = whole.checkpoints.at(1);
  for (const std::string& bad : {good.substr(0, good.size() / 2), std::string("not a checkpoint"),
                                 std::string(good.size(), '\0')}) {
    const Training fell_back = Train(*trainer, genome, task, 5, bad);
    // Trained from the first epoch, as if no checkpoint had been given.
    ASSERT_EQ(fell_back.epochs.size(), 2u);
    EXPECT_EQ(fell_back.epochs[0].resumed_from_epoch, 0);
    EXPECT_THAT(fell_back.epochs[0].resume_error, HasSubstr("cannot be read"));
    EXPECT_EQ(fell_back.result.accuracy, whole.result.accuracy);
    EXPECT_EQ(fell_back.result.test_accuracy, whole.result.test_accuracy);
  }
}

TEST(CheckpointTest, AnotherTrialsCheckpointIsNotResumedFrom) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = Task("fashion_mnist_mlp", 2000, 2);
  const Training seven = Train(*trainer, Genome(64, 1, "relu", "adam"), task, 7);
  const Training eight = Train(*trainer, Genome(64, 1, "relu", "adam"), task, 8);
  const Training other =
      Train(*trainer, Genome(64, 1, "relu", "adam"), task, 8, seven.checkpoints.at(1));
  EXPECT_THAT(other.epochs[0].resume_error, HasSubstr("another genome, task or seed"));
  EXPECT_EQ(other.result.accuracy, eight.result.accuracy);
  const Training genome =
      Train(*trainer, Genome(32, 1, "relu", "adam"), task, 7, seven.checkpoints.at(1));
  EXPECT_THAT(genome.epochs[0].resume_error, HasSubstr("another genome, task or seed"));
}

// Population-based training: a round stops after its last epoch with that epoch's
// state, and the next round goes on from it, under its own seed and other training
// genes, where the network is the same.
TEST(CheckpointTest, ARoundStopsAtItsEpochAndTheNextGoesOnUnderOtherTrainingGenes) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = StatefulTask();
  const Training whole = Train(*trainer, StatefulMlp(), task, 7);
  CheckpointOptions first;
  first.stop_epoch = 2;  // and no checkpoint due otherwise
  const Training round1 = Train(*trainer, StatefulMlp(), task, 7, first);
  ASSERT_EQ(round1.epochs.size(), 2u);
  EXPECT_EQ(round1.result.epochs_run, 2);
  ASSERT_EQ(round1.checkpoints.size(), 1u);
  ASSERT_EQ(round1.checkpoints.count(2), 1u);
  EXPECT_EQ(round1.epochs[1].val_accuracy, whole.epochs[1].val_accuracy);
  // Its result is its last epoch's weights (the next round goes on from those), not
  // the best epoch's that early stopping would restore at the task's end.
  EXPECT_EQ(round1.result.accuracy, whole.epochs[1].val_accuracy);

  CheckpointOptions next;
  next.every_epochs = 1;
  next.resume = round1.checkpoints.at(2);
  next.resume_identity = genome::TrialIdentity(StatefulMlp(), task, 7);
  // Under the same genes it goes on as the uninterrupted training, whatever its seed.
  ExpectSameTraining(whole, Train(*trainer, StatefulMlp(), task, 99, next), 2,
                     /*same_measurement=*/false);
  // Under another learning rate and dropout it goes on, and trains otherwise.
  genome::NamedGenome explored = StatefulMlp();
  for (auto& [name, value] : explored) {
    if (name == "learning_rate") value = 0.0036;
    if (name == "dropout") value = 0.3;
  }
  const Training round2 = Train(*trainer, explored, task, 99, next);
  ASSERT_EQ(round2.epochs.size(), 2u);
  EXPECT_EQ(round2.epochs[0].epoch, 3);
  EXPECT_EQ(round2.epochs[0].resumed_from_epoch, 2);
  EXPECT_EQ(round2.epochs[0].resume_error, "");
  EXPECT_NE(round2.epochs[0].loss, whole.epochs[2].loss);
  // Another network cannot go on from it, nor a round that names another identity.
  genome::NamedGenome wider = StatefulMlp();
  for (auto& [name, value] : wider) {
    if (name == "nb_neurons_1") value = int64_t{256};
  }
  EXPECT_THAT(Train(*trainer, wider, task, 99, next).epochs[0].resume_error,
              HasSubstr("other shapes"));
  next.resume_identity = genome::TrialIdentity(StatefulMlp(), task, 8);
  EXPECT_THAT(Train(*trainer, explored, task, 99, next).epochs[0].resume_error,
              HasSubstr("another genome, task or seed"));
}

TEST(CheckpointTest, EveryEpochsAndEverySecondsSayWhenToSave) {
  auto trainer = CpuTrainer();
  const v1::TaskSpec task = Task("fashion_mnist_mlp", 1000, 5);
  const genome::NamedGenome genome = Genome(32, 1, "relu", "sgd");
  auto epochs = [](const Training& run) {
    std::vector<int> out;
    for (const auto& [epoch, bytes] : run.checkpoints) out.push_back(epoch);
    return out;
  };
  EXPECT_THAT(epochs(Train(*trainer, genome, task, 1, "", 2)), ::testing::ElementsAre(2, 4));
  EXPECT_THAT(epochs(Train(*trainer, genome, task, 1, "", 0, 1e-9)),
              ::testing::ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(epochs(Train(*trainer, genome, task, 1, "", 0, 3600)), ::testing::ElementsAre());
}

}  // namespace
}  // namespace deepevolve::trainer
