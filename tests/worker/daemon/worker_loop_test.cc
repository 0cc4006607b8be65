#include "worker/daemon/worker_loop.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_master_client.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::worker {
namespace {

using ::deepevolve::testing::FakeMasterClient;
using ::testing::HasSubstr;

v1::AcquireResponse Work(int64_t lease_id) {
  v1::AcquireResponse r;
  r.mutable_assignment()->set_lease_id(lease_id);
  r.mutable_assignment()->mutable_task()->set_epochs(2);
  return r;
}

class WorkerLoopTest : public ::testing::Test {
 protected:
  WorkerOptions Options() {
    WorkerOptions options;
    options.worker_id = "w1";
    options.incarnation = 7;
    options.acquire_wait = absl::ZeroDuration();
    options.max_backoff = absl::ZeroDuration();  // retries without waiting
    return options;
  }
  // Starts the loop with `train`; it stops the first time the master has no work.
  absl::Status Run(TrainFn train, WorkerOptions options) {
    loop_ = std::make_unique<WorkerLoop>(&master_, std::move(train), std::move(options));
    master_.SetWhenIdle([this] { loop_->Stop(); });
    return loop_->Run();
  }
  absl::Status Run(TrainFn train) { return Run(std::move(train), Options()); }

  // Trains every epoch with a heartbeat, gives up when the master says stop, and ends
  // with the result so far when it says prune.
  static absl::StatusOr<genome::TrialResult> TrainAll(const v1::Assignment& a,
                                                      const ProgressFn& progress,
                                                      std::string* model,
                                                      const genome::Checkpoints* = nullptr) {
    genome::TrialResult r;
    for (int e = 1; e <= a.task().epochs(); ++e) {
      const AfterEpoch next = progress({e, a.task().epochs(), 0.5, 0.8, 0.1 * e, 0, {}, 0, {}, {}});
      if (next == AfterEpoch::kCancel) return absl::CancelledError("stopped");
      r.epochs_run = e;
      if (next == AfterEpoch::kStop) break;
    }
    if (model != nullptr) *model = "weights";
    r.accuracy = 0.8;
    return r;
  }

  FakeMasterClient master_;
  std::unique_ptr<WorkerLoop> loop_;
};

// --- Checkpoints ---

v1::AcquireResponse CheckpointedWork(int64_t lease_id, int epochs, int resume_epoch = 0) {
  v1::AcquireResponse r = Work(lease_id);
  r.mutable_assignment()->mutable_task()->set_epochs(epochs);
  r.mutable_assignment()->mutable_checkpoint()->set_every_epochs(1);
  r.mutable_assignment()->set_resume_epoch(resume_epoch);
  return r;
}

// Trains from the checkpoint it was given ("after N") to the task's last epoch, each
// epoch's progress with the state after it; `during` runs in each epoch.
TrainFn CheckpointingTrainer(std::string* resumed_from, std::function<void(int)> during = {}) {
  return
      [resumed_from, during](const v1::Assignment& a, const ProgressFn& progress, std::string*,
                             const genome::Checkpoints* c) -> absl::StatusOr<genome::TrialResult> {
        EXPECT_NE(c, nullptr);
        *resumed_from = c->resume;
        const int first = c->resume.empty() ? 1 : std::stoi(c->resume.substr(6)) + 1;
        genome::TrialResult r;
        for (int e = first; e <= a.task().epochs(); ++e) {
          if (during) during(e);
          EpochProgress p{e, a.task().epochs(), 0.5, 0.8, 0.1 * e, 0, {}, first - 1, {}, {}};
          if (c->every_epochs > 0 || (c->now != nullptr && c->now->load())) {
            p.checkpoint = absl::StrCat("after ", e);
          }
          if (progress(p) == AfterEpoch::kCancel) return absl::CancelledError("stopped");
          r.epochs_run = e;
        }
        r.accuracy = 0.8;
        return r;
      };
}

TEST_F(WorkerLoopTest, EachEpochsCheckpointGoesWithItsProgressAndARefusedOneFallsBackToAHeartbeat) {
  master_.QueueAcquire(CheckpointedWork(5, 3));
  v1::SaveCheckpointResponse refused;
  refused.set_reason("epoch 2 is not after the stored checkpoint's (2)");
  master_.QueueSaveCheckpoint(v1::SaveCheckpointResponse());  // default answer below
  master_.QueueSaveCheckpoint(refused);
  std::string resumed;
  // The first answer is not accepted either (no accepted flag): it falls back too.
  ASSERT_TRUE(Run(CheckpointingTrainer(&resumed)).ok());
  EXPECT_EQ(resumed, "");
  const auto saves = master_.saved_checkpoints();
  ASSERT_EQ(saves.size(), 3u);
  EXPECT_EQ(saves[0].first.epoch(), 1);
  EXPECT_EQ(saves[0].second, "after 1");
  EXPECT_EQ(saves[2].first.lease_id(), 5);
  EXPECT_EQ(saves[2].first.worker_id(), "w1");
  // Epochs 1 and 2 were not kept, so their progress went as plain heartbeats; epoch 3's
  // checkpoint was accepted with its progress.
  std::vector<int> heartbeats;
  for (const auto& h : master_.heartbeats()) heartbeats.push_back(h.epoch());
  EXPECT_THAT(heartbeats, ::testing::ElementsAre(1, 2));
  EXPECT_TRUE(master_.reports()[0].ok());
}

TEST_F(WorkerLoopTest, AResumeFetchesTheCheckpointOrSaysWhyNot) {
  master_.QueueAcquire(CheckpointedWork(5, 3, 2));
  master_.QueueGetCheckpoint(MasterClient::Checkpoint{2, "after 2"});
  // A master restarting: the fetch is tried again (not trained from epoch 1).
  master_.QueueAcquire(CheckpointedWork(6, 3, 1));
  master_.QueueGetCheckpoint(absl::UnavailableError("the master is away"));
  master_.QueueGetCheckpoint(MasterClient::Checkpoint{1, "after 1"});
  master_.QueueAcquire(CheckpointedWork(7, 3, 1));
  master_.QueueGetCheckpoint(absl::NotFoundError("the checkpoint file is gone"));
  std::vector<std::string> resumed_from;
  std::string resumed;
  ASSERT_TRUE(Run([&](const v1::Assignment& a, const ProgressFn& progress, std::string* model,
                      const genome::Checkpoints* c) {
                auto r = CheckpointingTrainer(&resumed)(a, progress, model, c);
                resumed_from.push_back(resumed);
                return r;
              }).ok());
  EXPECT_THAT(resumed_from, ::testing::ElementsAre("after 2", "after 1", ""));
  ASSERT_EQ(master_.checkpoint_fetches().size(), 4u);
  EXPECT_EQ(master_.checkpoint_fetches()[0].lease_id(), 5);
  EXPECT_EQ(master_.checkpoint_fetches()[2].lease_id(), 6);
  // The last trains from epoch 1, every progress saying why it did not resume.
  const auto saves = master_.saved_checkpoints();
  ASSERT_EQ(saves.size(), 1u + 2u + 3u);
  EXPECT_EQ(saves[0].first.epoch(), 3);
  EXPECT_EQ(saves[0].first.resumed_from_epoch(), 2);
  EXPECT_EQ(saves[1].first.resumed_from_epoch(), 1);
  EXPECT_EQ(saves[3].first.epoch(), 1);
  EXPECT_THAT(saves[3].first.resume_error(),
              HasSubstr("could not be fetched: the checkpoint file is gone"));
}

// --checkpoint-dir shared with the master: checkpoints are written there (the master
// gets the staging name, no bytes) and the one to resume from read there.
TEST_F(WorkerLoopTest, WithASharedDirectoryCheckpointsAreWrittenAndReadThere) {
  deepevolve::testing::TempDir shared;
  master_.ShareCheckpointDir(shared.path().string());
  std::ofstream(shared.File("search-1-genome-6-epoch-1.ckpt")) << "after 1";
  master_.QueueAcquire(CheckpointedWork(5, 2));
  v1::AcquireResponse resume = CheckpointedWork(6, 2, 1);
  resume.mutable_assignment()->set_checkpoint_file("search-1-genome-6-epoch-1.ckpt");
  master_.QueueAcquire(resume);
  WorkerOptions options = Options();
  options.checkpoint_dir = shared.path().string();
  std::vector<std::string> resumed_from;
  std::string resumed;
  ASSERT_TRUE(Run(
                  [&](const v1::Assignment& a, const ProgressFn& progress, std::string* model,
                      const genome::Checkpoints* c) {
                    auto r = CheckpointingTrainer(&resumed)(a, progress, model, c);
                    resumed_from.push_back(resumed);
                    return r;
                  },
                  options)
                  .ok());
  EXPECT_THAT(resumed_from, ::testing::ElementsAre("", "after 1"));
  EXPECT_TRUE(master_.checkpoint_fetches().empty());  // read from the directory
  std::vector<std::string> sent;
  for (const auto& [progress, data] : master_.saved_checkpoints()) sent.push_back(data);
  EXPECT_THAT(sent, ::testing::ElementsAre("shared after 1", "shared after 2", "shared after 2"));
  // No staging file is left behind (the fake master moves none into place).
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(shared.path())) {
    left.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(left, ::testing::ElementsAre("search-1-genome-6-epoch-1.ckpt"));
}

TEST_F(WorkerLoopTest, AMasterWithoutTheSharedDirectoryGetsTheBytes) {
  deepevolve::testing::TempDir shared;
  master_.ShareCheckpointDir(shared.path().string());
  master_.QueueAcquire(CheckpointedWork(5, 2));
  master_.QueueSaveCheckpoint(absl::FailedPreconditionError("no --checkpoint-dir"));
  WorkerOptions options = Options();
  options.checkpoint_dir = shared.path().string();
  std::string resumed;
  ASSERT_TRUE(Run(CheckpointingTrainer(&resumed), options).ok());
  std::vector<std::string> sent;
  for (const auto& [progress, data] : master_.saved_checkpoints()) sent.push_back(data);
  // Tried in the directory once, then sent, and sent from then on.
  EXPECT_THAT(sent, ::testing::ElementsAre("shared after 1", "after 1", "after 2"));
  EXPECT_TRUE(std::filesystem::is_empty(shared.path()));
}

TEST_F(WorkerLoopTest, DrainHandsTheLeaseBackAfterTheEpochInHandWithItsCheckpoint) {
  v1::AcquireResponse work = CheckpointedWork(5, 4);
  work.mutable_assignment()->mutable_checkpoint()->set_every_epochs(0);  // none due
  work.mutable_assignment()->mutable_checkpoint()->set_every_seconds(3600);
  master_.QueueAcquire(work);
  std::string resumed;
  ASSERT_TRUE(Run(CheckpointingTrainer(&resumed, [this](int epoch) {
                if (epoch == 2) loop_->Drain();  // a spot notice during the second epoch
              })).ok());
  // The second epoch's progress went with a checkpoint though none was due, and the
  // lease went back: no third epoch, no result.
  const auto saves = master_.saved_checkpoints();
  ASSERT_EQ(saves.size(), 1u);
  EXPECT_EQ(saves[0].first.epoch(), 2);
  ASSERT_EQ(master_.reports().size(), 1u);
  EXPECT_TRUE(master_.reports()[0].released());
  EXPECT_EQ(master_.reports()[0].lease_id(), 5);
}

TEST_F(WorkerLoopTest, DrainFinishesATrialThatCannotResumeElsewhere) {
  v1::AcquireResponse work = Work(5);  // its search takes no checkpoints
  work.mutable_assignment()->mutable_task()->set_epochs(3);
  master_.QueueAcquire(work);
  ASSERT_TRUE(Run([this](const v1::Assignment& a, const ProgressFn& progress, std::string* model,
                         const genome::Checkpoints* c) {
                loop_->Drain();
                return TrainAll(a, progress, model, c);
              }).ok());
  ASSERT_EQ(master_.reports().size(), 1u);
  EXPECT_FALSE(master_.reports()[0].released());
  EXPECT_EQ(master_.reports()[0].epochs_run(), 3);
}

TEST_F(WorkerLoopTest, TrainsReportsAndHeartbeatsEachEpoch) {
  master_.QueueAcquire(Work(5));
  ASSERT_TRUE(Run(TrainAll).ok());
  ASSERT_EQ(master_.registers().size(), 1u);
  EXPECT_EQ(master_.registers()[0].worker_id(), "w1");
  EXPECT_EQ(master_.registers()[0].incarnation(), 7);
  ASSERT_EQ(master_.heartbeats().size(), 2u);
  EXPECT_EQ(master_.heartbeats()[1].epoch(), 2);
  EXPECT_EQ(master_.heartbeats()[1].lease_id(), 5);
  EXPECT_EQ(master_.heartbeats()[1].incarnation(), 7);
  ASSERT_EQ(master_.reports().size(), 1u);
  const v1::ReportRequest& report = master_.reports()[0];
  EXPECT_EQ(report.lease_id(), 5);
  EXPECT_TRUE(report.ok());
  EXPECT_DOUBLE_EQ(report.accuracy(), 0.8);
  EXPECT_TRUE(report.acquire_next());
  EXPECT_EQ(loop_->trials_done(), 1);
}

TEST_F(WorkerLoopTest, AModelIsUploadedOnlyWhenItCanBeTheSearchsNewBest) {
  v1::AcquireResponse ahead = Work(5);
  ahead.mutable_assignment()->set_upload_model(true);
  ahead.mutable_assignment()->set_best_accuracy(0.7);  // TrainAll reaches 0.8
  master_.QueueAcquire(ahead);
  v1::AcquireResponse behind = Work(6);
  behind.mutable_assignment()->set_upload_model(true);
  behind.mutable_assignment()->set_best_accuracy(0.7);
  master_.QueueAcquire(behind);
  master_.QueueHeartbeat(v1::HeartbeatResponse());  // lease 5's two epochs
  master_.QueueHeartbeat(v1::HeartbeatResponse());
  v1::HeartbeatResponse better;
  better.set_best_accuracy(0.85);  // meanwhile another worker did better
  master_.QueueHeartbeat(better);
  ASSERT_TRUE(Run(TrainAll).ok());
  ASSERT_EQ(master_.reports().size(), 2u);
  EXPECT_EQ(master_.reports()[0].model(), "weights");
  EXPECT_TRUE(master_.reports()[1].model().empty());
}

TEST_F(WorkerLoopTest, RegistersAgainWhenTheMasterForgotIt) {
  master_.QueueAcquire(absl::FailedPreconditionError("worker w1 is not registered"));
  master_.QueueAcquire(Work(5));
  ASSERT_TRUE(Run(TrainAll).ok());
  EXPECT_EQ(master_.registers().size(), 2u);
  ASSERT_EQ(master_.reports().size(), 1u);
  EXPECT_EQ(master_.reports()[0].lease_id(), 5);
}

TEST_F(WorkerLoopTest, RetriesARegistrationThroughUnavailableButNotARefusal) {
  master_.QueueRegister(absl::UnavailableError("master at 127.0.0.1:1 is unreachable"));
  master_.QueueRegister(absl::UnavailableError("master at 127.0.0.1:1 is unreachable"));
  ASSERT_TRUE(Run(TrainAll).ok());
  EXPECT_EQ(master_.registers().size(), 3u);

  FakeMasterClient refusing;
  refusing.QueueRegister(absl::PermissionDeniedError("no certificate"));
  WorkerLoop loop(&refusing, TrainAll, Options());
  EXPECT_TRUE(absl::IsPermissionDenied(loop.Run()));
  EXPECT_EQ(refusing.registers().size(), 1u);
  EXPECT_TRUE(refusing.acquires().empty());
}

TEST_F(WorkerLoopTest, RetriesAReportThroughUnavailable) {
  master_.QueueAcquire(Work(5));
  master_.QueueReport(absl::UnavailableError("master at 127.0.0.1:1 is unreachable"));
  master_.QueueReport(absl::DeadlineExceededError("deadline"));
  ASSERT_TRUE(Run(TrainAll).ok());
  ASSERT_EQ(master_.reports().size(), 3u);
  for (const v1::ReportRequest& r : master_.reports()) EXPECT_EQ(r.lease_id(), 5);
  EXPECT_EQ(loop_->trials_done(), 1);
}

TEST_F(WorkerLoopTest, ANotFoundHeartbeatCancelsTraining) {
  master_.QueueAcquire(Work(5));
  master_.QueueHeartbeat(absl::NotFoundError("no lease with id 5"));
  int epochs_trained = 0;
  ASSERT_TRUE(Run([&](const v1::Assignment& a, const ProgressFn& progress, std::string* model,
                      const genome::Checkpoints*) {
                ++epochs_trained;
                return TrainAll(a, progress, model);
              }).ok());
  ASSERT_EQ(master_.heartbeats().size(), 1u);
  EXPECT_EQ(master_.heartbeats()[0].epoch(), 1);
  EXPECT_TRUE(master_.reports().empty());
}

TEST_F(WorkerLoopTest, AStopAnswerCancelsTraining) {
  master_.QueueAcquire(Work(5));
  v1::HeartbeatResponse stop;
  stop.set_stop(true);
  master_.QueueHeartbeat(stop);
  ASSERT_TRUE(Run(TrainAll).ok());
  EXPECT_EQ(master_.heartbeats().size(), 1u);
  EXPECT_TRUE(master_.reports().empty());
}

TEST_F(WorkerLoopTest, APrunedGenomeStopsAtOnceAndReportsItsResultSoFar) {
  master_.QueueAcquire(Work(5));  // 2 epochs
  v1::HeartbeatResponse prune;
  prune.set_prune(true);
  master_.QueueHeartbeat(prune);
  ASSERT_TRUE(Run(TrainAll).ok());
  // No epoch after the one the master stopped it at.
  ASSERT_EQ(master_.heartbeats().size(), 1u);
  EXPECT_EQ(master_.heartbeats()[0].epoch(), 1);
  ASSERT_EQ(master_.reports().size(), 1u);
  EXPECT_TRUE(master_.reports()[0].ok());
  EXPECT_EQ(master_.reports()[0].epochs_run(), 1);
  EXPECT_EQ(master_.reports()[0].lease_id(), 5);
}

// A master restarting while an epoch ends: its heartbeat is tried again, so the pruner
// decides at that epoch.
TEST_F(WorkerLoopTest, AnEpochsHeartbeatIsRetriedThroughARestart) {
  master_.QueueAcquire(Work(5));
  master_.QueueHeartbeat(absl::UnavailableError("restarting"));
  master_.QueueHeartbeat(absl::UnavailableError("restarting"));
  v1::HeartbeatResponse prune;
  prune.set_prune(true);
  master_.QueueHeartbeat(prune);
  WorkerOptions options = Options();
  options.max_backoff = absl::Milliseconds(1);
  ASSERT_TRUE(Run(TrainAll, options).ok());
  ASSERT_EQ(master_.heartbeats().size(), 3u);
  for (const v1::HeartbeatRequest& h : master_.heartbeats()) EXPECT_EQ(h.epoch(), 1);
  ASSERT_EQ(master_.reports().size(), 1u);
  EXPECT_EQ(master_.reports()[0].epochs_run(), 1);
}

TEST_F(WorkerLoopTest, StopFinishesTheTrialInHand) {
  master_.QueueAcquire(Work(5));
  ASSERT_TRUE(Run([&](const v1::Assignment& a, const ProgressFn& progress, std::string* model,
                      const genome::Checkpoints*) {
                loop_->Stop();  // as SIGTERM would, mid-trial
                return TrainAll(a, progress, model);
              }).ok());
  ASSERT_EQ(master_.reports().size(), 1u);
  EXPECT_TRUE(master_.reports()[0].ok());
  EXPECT_FALSE(master_.reports()[0].acquire_next());
  EXPECT_EQ(master_.acquires().size(), 1u);
}

TEST_F(WorkerLoopTest, AbortAbandonsTheTrialInHand) {
  master_.QueueAcquire(Work(5));
  int epochs = 0;
  ASSERT_TRUE(Run([&](const v1::Assignment& a, const ProgressFn& progress, std::string*,
                      const genome::Checkpoints*) -> absl::StatusOr<genome::TrialResult> {
                loop_->Abort();  // a second SIGTERM
                if (progress({1, 2, 0.5, 0.8, 0.1, 0, {}, 0, {}, {}}) != AfterEpoch::kContinue) {
                  return absl::CancelledError("stopped");
                }
                ++epochs;
                return genome::TrialResult();
              }).ok());
  EXPECT_EQ(epochs, 0);
  EXPECT_TRUE(master_.reports().empty());
  EXPECT_EQ(master_.acquires().size(), 1u);
}

TEST_F(WorkerLoopTest, StopsAfterMaxTrialsTakingTheNextGenomeFromTheReport) {
  master_.QueueAcquire(Work(5));
  v1::ReportResponse with_next;
  with_next.set_accepted(true);
  *with_next.mutable_next() = Work(6).assignment();
  master_.QueueReport(with_next);
  WorkerOptions options = Options();
  options.max_trials = 2;
  ASSERT_TRUE(Run(TrainAll, options).ok());
  ASSERT_EQ(master_.reports().size(), 2u);
  EXPECT_EQ(master_.reports()[0].lease_id(), 5);
  EXPECT_TRUE(master_.reports()[0].acquire_next());
  EXPECT_EQ(master_.reports()[1].lease_id(), 6);
  EXPECT_FALSE(master_.reports()[1].acquire_next());
  EXPECT_EQ(master_.acquires().size(), 1u);
  EXPECT_EQ(loop_->trials_done(), 2);
}

TEST_F(WorkerLoopTest, ASetupErrorIsReportedAsAFailedTrialNamingTheWorker) {
  master_.QueueAcquire(Work(5));
  ASSERT_TRUE(Run([](const v1::Assignment&, const ProgressFn&, std::string*,
                     const genome::Checkpoints*) -> absl::StatusOr<genome::TrialResult> {
                return absl::NotFoundError("dataset fashion_mnist: no file t10k-images-idx3-ubyte");
              }).ok());
  ASSERT_EQ(master_.reports().size(), 1u);
  EXPECT_FALSE(master_.reports()[0].ok());
  EXPECT_EQ(master_.reports()[0].failure_kind(), v1::FAILURE_KIND_SETUP);
  EXPECT_THAT(master_.reports()[0].error(), HasSubstr("worker w1"));
  EXPECT_THAT(master_.reports()[0].error(), HasSubstr("t10k-images"));
}

}  // namespace
}  // namespace deepevolve::worker
