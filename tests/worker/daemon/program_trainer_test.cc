// Trainer programs as real child processes: the protocol, each way a program can fail,
// and a program the master stops.
#include "worker/daemon/program_trainer.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::worker {
namespace {

namespace fs = std::filesystem;
using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::testing::HasSubstr;

class ProgramTrainerTest : public ::testing::Test {
 protected:
  ProgramTrainerTest() {
    options_.work_root = dir_.path().string();
    options_.threads = 3;
    options_.data_dirs = {"/data/a", "/data/b"};
    options_.grace = absl::Milliseconds(200);
    a_.set_lease_id(5);
    a_.set_search_id(2);
    a_.set_seed(0xfedcba9876543210ull);
    a_.mutable_genome()->set_id(7);
    a_.mutable_genome()->set_hash("0123abcd");
    a_.mutable_task()->set_trainer("toy@1");
    a_.mutable_task()->set_dataset("toy:400");
    a_.mutable_task()->set_epochs(3);
    a_.add_gene_names("learning_rate");
    a_.mutable_genome()->add_values()->set_float_value(0.01);
    a_.add_gene_names("l2");
    a_.mutable_genome()->add_values()->set_float_value(0.001);
    a_.add_gene_names("optimizer");
    a_.mutable_genome()->add_values()->set_string_value("adam");
    a_.add_gene_names("width");
    a_.mutable_genome()->add_values()->set_int_value(64);
    a_.add_gene_names("inactive");
    a_.mutable_genome()->add_values();  // no value: not part of the genome
  }

  // Runs `command` as the trainer; `after_epoch` answers every epoch line, `after_ask`
  // the questions asked between them (epoch 0).
  absl::StatusOr<genome::TrialResult> Run(const std::string& command,
                                          AfterEpoch after_epoch = AfterEpoch::kContinue,
                                          AfterEpoch after_ask = AfterEpoch::kContinue) {
    epochs_.clear();
    model_.clear();
    return RunTrainerProgram(
        {"toy@1", command}, a_, options_,
        [&](const EpochProgress& e) {
          if (e.epoch == 0) return after_ask;
          epochs_.push_back(e);
          return after_epoch;
        },
        &model_, checkpoints_);
  }

  // No trial leaves its working directory behind.
  void TearDown() override { EXPECT_TRUE(fs::is_empty(dir_.path())); }

  deepevolve::testing::TempDir dir_;
  ProgramOptions options_;
  v1::Assignment a_;
  std::vector<EpochProgress> epochs_;
  std::string model_;
  const genome::Checkpoints* checkpoints_ = nullptr;  // what Run offers the program
};

std::string Minimal() {
  return absl::StrCat("python3 ", DEEPEVOLVE_SOURCE_DIR, "/examples/trainers/minimal.py");
}

// A program opts in to checkpoints through its protocol: it writes its state at
// checkpoint_path and says so ({"checkpoint": N}); the state goes to the master with
// that epoch's progress, and a trial resumed from it goes on after that epoch.
TEST_F(ProgramTrainerTest, AProgramCheckpointsAndResumesFromItsCheckpoint) {
  auto whole = Run(Minimal());
  ASSERT_THAT(whole, IsOk());
  ASSERT_EQ(epochs_.size(), 3u);  // offered no checkpoint path, it writes none

  genome::Checkpoints c;
  c.every_epochs = 1;
  checkpoints_ = &c;
  auto saved = Run(Minimal());
  ASSERT_THAT(saved, IsOk());
  EXPECT_EQ(saved->accuracy, whole->accuracy);
  std::map<int, std::string> states;
  for (const EpochProgress& e : epochs_) {
    if (!e.checkpoint.empty()) states[e.epoch] = e.checkpoint;
  }
  // Each epoch's progress, then again with its state, but the last's (a trial that ends
  // needs none).
  ASSERT_EQ(states.size(), 2u);
  ASSERT_EQ(epochs_.size(), 5u);
  EXPECT_THAT(states[2], HasSubstr("\"epoch\": 2"));

  // A worker lost after epoch 2: the next goes on from its state, to the same result.
  c.resume = states[2];
  a_.set_resume_epoch(2);
  auto resumed = Run(Minimal());
  ASSERT_THAT(resumed, IsOk());
  ASSERT_TRUE(resumed->ok) << resumed->error;
  EXPECT_EQ(resumed->accuracy, whole->accuracy);
  EXPECT_EQ(resumed->epochs_run, 3);
  ASSERT_FALSE(epochs_.empty());
  EXPECT_EQ(epochs_.front().epoch, 3);
  EXPECT_EQ(epochs_.front().resumed_from_epoch, 2);
  EXPECT_EQ(epochs_.front().resume_error, "");

  // One that begins at the first epoch all the same did not resume, and says so.
  auto ignored = Run(R"(echo '{"epoch": 1, "val_accuracy": 0.5}'; echo '{"accuracy": 0.5}')");
  ASSERT_THAT(ignored, IsOk());
  EXPECT_TRUE(ignored->ok) << ignored->error;
  ASSERT_EQ(epochs_.size(), 1u);
  EXPECT_EQ(epochs_[0].resumed_from_epoch, 0);
  EXPECT_THAT(epochs_[0].resume_error,
              HasSubstr("did not resume from the checkpoint after epoch 2"));
  a_.set_resume_epoch(0);
  c.resume.clear();

  // A checkpoint of an epoch it did not just report breaks the protocol; a link is not
  // read (nor sent).
  EXPECT_THAT(Run(R"(echo '{"epoch": 1, "val_accuracy": 0.5}'; echo '{"checkpoint": 2}')"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("checkpoint line")));
  auto linked = Run(R"(ln -s /etc/passwd checkpoint; echo '{"epoch": 1, "val_accuracy": 0.5}';
                       echo '{"checkpoint": 1}'; echo '{"accuracy": 0.5}')");
  ASSERT_THAT(linked, IsOk());
  for (const EpochProgress& e : epochs_) EXPECT_TRUE(e.checkpoint.empty());
}

TEST_F(ProgramTrainerTest, TheMinimalExampleTrainsAndReportsEveryEpoch) {
  auto r = Run(absl::StrCat("python3 ", DEEPEVOLVE_SOURCE_DIR, "/examples/trainers/minimal.py"));
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_GT(r->accuracy, 0.6);
  EXPECT_LE(r->accuracy, 1.0);
  EXPECT_EQ(r->epochs_run, 3);
  ASSERT_EQ(epochs_.size(), 3u);
  EXPECT_EQ(epochs_[2].epoch, 3);
  EXPECT_EQ(epochs_[2].epochs, 3);
  EXPECT_EQ(epochs_[2].val_accuracy, r->accuracy);
  EXPECT_GT(epochs_[0].loss, epochs_[2].loss);
  // Seeded: the same trial gives the same result.
  auto again =
      Run(absl::StrCat("python3 ", DEEPEVOLVE_SOURCE_DIR, "/examples/trainers/minimal.py"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->accuracy, r->accuracy);
}

TEST_F(ProgramTrainerTest, TheTrialComesOnStdinAndInTheEnvironment) {
  // Checks what it was given; says what differs as a genome error.
  const std::string check = R"(python3 -c '
import json, os, sys
t = json.load(sys.stdin)
e = os.environ
want = {"trainer": "toy@1", "search_id": 2, "genome_id": 7, "genome_hash": "0123abcd",
        "genes": {"learning_rate": 0.01, "l2": 0.001, "optimizer": "adam", "width": 64},
        "seed": 0x76543210, "epochs": 3, "dataset": "toy:400", "device": "cpu", "threads": 3,
        "data_dirs": ["/data/a", "/data/b"]}
bad = [k for k in want if t.get(k) != want[k]]
bad += [k for k in ("workdir",) if t[k] != os.getcwd() or os.listdir(".")]
bad += [k for k in ("model_path",) if os.path.dirname(t[k]) != os.getcwd()]
env = {"DEEPEVOLVE_SEED": str(0x76543210), "DEEPEVOLVE_EPOCHS": "3",
       "DEEPEVOLVE_DATASET": "toy:400", "DEEPEVOLVE_DEVICE": "cpu", "DEEPEVOLVE_THREADS": "3",
       "DEEPEVOLVE_DATA_DIRS": "/data/a:/data/b", "DEEPEVOLVE_GENE_LEARNING_RATE": "0.01",
       "DEEPEVOLVE_GENE_OPTIMIZER": "adam", "DEEPEVOLVE_GENE_WIDTH": "64",
       "DEEPEVOLVE_TRAINER": "toy@1", "OMP_NUM_THREADS": "3", "CUDA_VISIBLE_DEVICES": ""}
bad += [k for k in env if e.get(k) != env[k]]
bad += [k for k in ("DEEPEVOLVE_GENE_INACTIVE",) if k in e]
bad += [k for k in ("DEEPEVOLVE_TRIAL",) if json.loads(e[k]) != t]
open(t["model_path"], "w").write("weights")
print(json.dumps({"error": "wrong: " + " ".join(bad)} if bad else {"accuracy": 0.5}))
')";
  auto r = Run(check);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->ok) << r->error;
  EXPECT_EQ(r->accuracy, 0.5);
  EXPECT_EQ(model_, "weights");
}

TEST_F(ProgramTrainerTest, ACrashIsTheGenomesFailureWithTheEndOfItsStderr) {
  auto r = Run("echo loading >&2; echo 'RuntimeError: out of memory' >&2; exit 3");
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->ok);
  EXPECT_THAT(r->error, HasSubstr("trainer toy@1 exited with code 3"));
  EXPECT_THAT(r->error, HasSubstr("loading\nRuntimeError: out of memory"));
  r = Run("kill -SEGV $$");
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->ok);
  EXPECT_THAT(r->error, HasSubstr("killed by signal 11"));
}

TEST_F(ProgramTrainerTest, OtherStdoutLinesAreIgnored) {
  auto r =
      Run("echo 'Epoch 1/3 .....'; echo; echo '{\"note\": 1}'; "
          "echo '{\"epoch\": 1, \"val_accuracy\": 0.25}'; echo '{\"accuracy\": 0.4, "
          "\"test_accuracy\": 0.375}'");
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->ok) << r->error;
  EXPECT_EQ(r->accuracy, 0.4);
  EXPECT_EQ(r->test_accuracy, 0.375);
  EXPECT_EQ(r->epochs_run, 1);
  ASSERT_EQ(epochs_.size(), 1u);
  EXPECT_EQ(epochs_[0].val_accuracy, 0.25);
}

// Named numbers beside the accuracy (genome/metrics.h), per epoch and on the final
// line: the final line's win, the latest epoch's stand for the rest; a pruned trial
// keeps its last epoch's.
TEST_F(ProgramTrainerTest, AProgramReportsItsOwnMetrics) {
  auto r =
      Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.25, \"metrics\": {\"latency_ms\": 3.5, "
          "\"flops\": 1e9}}'; echo '{\"epoch\": 2, \"val_accuracy\": 0.3, \"metrics\": "
          "{\"latency_ms\": 3.25}}'; echo '{\"accuracy\": 0.4, \"metrics\": {\"params\": 1234}}'");
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->ok) << r->error;
  EXPECT_EQ(r->metrics, (genome::Metrics{{"flops", 1e9}, {"latency_ms", 3.25}, {"params", 1234}}));
  // Each epoch's progress carries the metrics as they stood then (for the heartbeat).
  ASSERT_EQ(epochs_.size(), 2u);
  EXPECT_EQ(epochs_[0].metrics, (genome::Metrics{{"flops", 1e9}, {"latency_ms", 3.5}}));
  EXPECT_EQ(epochs_[1].metrics, (genome::Metrics{{"flops", 1e9}, {"latency_ms", 3.25}}));
  auto pruned =
      Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.25, \"metrics\": {\"latency_ms\": 3.5}}'; "
          "sleep 30",
          AfterEpoch::kStop);
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(pruned->metrics, (genome::Metrics{{"latency_ms", 3.5}}));
  EXPECT_THAT(Run("echo '{\"accuracy\": 0.4, \"metrics\": {\"Latency\": 1}}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is no metric name")));
  EXPECT_THAT(Run("echo '{\"accuracy\": 0.4, \"metrics\": {\"params\": \"many\"}}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("metric \"params\" that is not a number")));
  EXPECT_THAT(Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.2, \"metrics\": [1]}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("\"metrics\" that is not an object")));
  EXPECT_THAT(Run("echo '{\"accuracy\": 0.4, \"metrics\": {\"accuracy\": 0.9}}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in its own field")));
}

TEST_F(ProgramTrainerTest, BrokenProtocolIsASetupFailureNamingWhat) {
  EXPECT_THAT(Run("echo '{\"epoch\": 1, \"val_accuracy\": '"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("malformed JSON")));
  EXPECT_THAT(Run("echo '{\"accuracy\": 1.5}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("\"accuracy\" must be a number in [0, 1], got 1.5")));
  EXPECT_THAT(Run("echo '{\"epoch\": 4, \"val_accuracy\": 0.5}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is not 1 (epochs go 1, 2, ... to 3)")));
  // Audit F14: an epoch skipped would skip a pruner's rung.
  EXPECT_THAT(Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.5}'; "
                  "echo '{\"epoch\": 3, \"val_accuracy\": 0.5}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not 2")));
  EXPECT_THAT(Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.5}'; echo done >&2"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("exited without a final {\"accuracy\": ...} line; its stderr "
                                 "ends:\ndone")));
  EXPECT_THAT(Run("echo '{\"accuracy\": 0.5}'; echo '{\"accuracy\": 0.6}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("after its final line")));
}

TEST_F(ProgramTrainerTest, ALineOverAMebibyteIsRefusedAndTheProgramStopped) {
  // Writes 2 MiB without a newline, then would hang: it is killed, not waited for.
  auto r = Run("head -c 2097152 /dev/zero | tr '\\0' a; sleep 60");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("wrote a line over 1 MiB on stdout")));
}

TEST_F(ProgramTrainerTest, ARunPastItsTimeBudgetIsKilledAndFailed) {
  options_.time_budget = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  auto r = Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.5}'; exec sleep 60");
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->ok);
  EXPECT_THAT(r->error, HasSubstr("ran past the trial's time budget of 300ms"));
  EXPECT_EQ(r->epochs_run, 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
}

TEST_F(ProgramTrainerTest, AProgramStoppedByThePrunerIsKilledEvenIfItIgnoresSigterm) {
  const absl::Time start = absl::Now();
  auto r =
      Run("trap '' TERM; echo '{\"epoch\": 1, \"val_accuracy\": 0.3, \"test_accuracy\": 0.25}'; "
          "sleep 60; echo '{\"accuracy\": 0.9}'",
          AfterEpoch::kStop);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->accuracy, 0.3);  // the epoch it was stopped at
  EXPECT_EQ(r->test_accuracy, 0.25);
  EXPECT_EQ(r->epochs_run, 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));  // SIGKILL after the grace
}

// The worker blocks SIGTERM in every thread (it waits for it with sigwait) and ignores
// SIGPIPE; its programs start with both at their defaults, so a stop ends one at once.
TEST_F(ProgramTrainerTest, AStopEndsAProgramAtOnceThoughTheWorkerBlocksSigterm) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);
  options_.grace = absl::Seconds(60);
  const absl::Time start = absl::Now();
  auto r = Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.3}'; exec sleep 60", AfterEpoch::kStop);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->epochs_run, 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));  // SIGTERM, not SIGKILL after 60 s
}

TEST_F(ProgramTrainerTest, ACancelledTrialEndsTheProgram) {
  EXPECT_THAT(
      Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.3}'; exec sleep 60", AfterEpoch::kCancel),
      StatusIs(absl::StatusCode::kCancelled, ::testing::_));
}

TEST_F(ProgramTrainerTest, ACommandThatCannotRunIsASetupFailure) {
  EXPECT_THAT(Run("/nonexistent/train --fast"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cannot run its command (/nonexistent/train --fast)")));
}

TEST_F(ProgramTrainerTest, AProgramSaysWhoseFaultItsFailureIs) {
  auto r = Run("echo '{\"error\": \"the network does not fit\"}'");
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->ok);
  EXPECT_THAT(r->error, HasSubstr("the network does not fit"));
  EXPECT_THAT(Run("echo '{\"error\": \"no GPU driver\", \"kind\": \"setup\"}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no GPU driver")));
  // A diverged loss is the genome's, as for the built-in trainer.
  r = Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.1, \"loss\": -1}'; echo '{\"accuracy\": 0.1}'");
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->ok);
  EXPECT_THAT(r->error, HasSubstr("its loss at epoch 1 is -1"));
}

// Audit F4: a wrongly typed "kind" and a value nested 100 000 deep are protocol
// violations, not an uncaught exception or a stack overflow in the worker.
TEST_F(ProgramTrainerTest, AnyLineAProgramWritesIsAnswerNeverACrash) {
  EXPECT_THAT(Run("echo '{\"error\": \"x\", \"kind\": 1}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("broke the protocol")));
  EXPECT_THAT(Run("echo '{\"error\": \"x\", \"kind\": null}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("an error line that")));
  EXPECT_THAT(Run("python3 -c \"print('{\\\"epoch\\\": 1, \\\"val_accuracy\\\": ' + '['*100000 + "
                  "']'*100000 + '}')\""),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("nested deeper than 16")));
  EXPECT_THAT(Run("echo '{\"accuracy\": [[[1]]]}'"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("got an array of 1")));
  EXPECT_THAT(Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.5, \"test_accuracy\": {}}'; "
                  "echo '{\"accuracy\": 0.5}'"),
              IsOk());
}

// Audit F5: a stop or a cancel reaches a program that writes nothing, within the poll
// interval, not at its next line (or the trial's 24-hour budget).
TEST_F(ProgramTrainerTest, ACancelReachesASilentProgram) {
  const absl::Time start = absl::Now();
  EXPECT_THAT(Run("exec sleep 30", AfterEpoch::kContinue, AfterEpoch::kCancel),
              StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(ProgramTrainerTest, AStopReachesAProgramSilentAfterItsEpoch) {
  const absl::Time start = absl::Now();
  auto r = Run("echo '{\"epoch\": 1, \"val_accuracy\": 0.3}'; exec sleep 30", AfterEpoch::kContinue,
               AfterEpoch::kStop);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->accuracy, 0.3);
  EXPECT_EQ(r->epochs_run, 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // A program that closed its output but does not exit is asked too.
  EXPECT_THAT(Run("exec >&- 2>&-; exec sleep 30", AfterEpoch::kContinue, AfterEpoch::kCancel),
              StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

// Audit F7: the model file is read without following a link, from the working
// directory's file system, and at most its limit: a program cannot make the worker
// upload the worker's own files, nor read a /proc file without end.
TEST_F(ProgramTrainerTest, AModelThatIsALinkIsNotUploaded) {
  auto r = Run("ln -s /proc/self/environ \"$DEEPEVOLVE_MODEL_PATH\"; echo '{\"accuracy\": 0.5}'");
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(model_, "");
  r = Run("ln -s /proc/self/pagemap \"$DEEPEVOLVE_MODEL_PATH\"; echo '{\"accuracy\": 0.5}'");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(model_, "");
  r = Run("mkfifo \"$DEEPEVOLVE_MODEL_PATH\"; echo '{\"accuracy\": 0.5}'");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(model_, "");
  r = Run("printf weights > \"$DEEPEVOLVE_MODEL_PATH\"; echo '{\"accuracy\": 0.5}'");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(model_, "weights");
}

// Audit F21: the working directory goes, whatever the program left in it, and nothing
// outside it: a link to a directory is removed as a link.
TEST_F(ProgramTrainerTest, TheWorkdirGoesAndNothingOutsideIt) {
  // Beside the fixture's directory (which must end empty), removed by the test.
  const fs::path outside = dir_.path().string() + "-outside";
  fs::create_directories(outside);
  { std::ofstream(outside / "keep") << "x"; }
  auto r = Run(absl::StrCat("mkdir -p a/b/c && touch a/b/c/f && ln -s ", outside.string(),
                            " a/link && mkdir locked && touch locked/f && chmod 000 locked && "
                            "echo '{\"accuracy\": 0.5}'"));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(fs::exists(outside / "keep"));
  fs::remove_all(outside);
  // TearDown checks that the working directory is gone.
}

}  // namespace
}  // namespace deepevolve::worker
