// The worker daemon's loop: register with the master, pull a genome, train it with
// heartbeats, report, and again — reconnecting with backoff whenever the master is
// away. Training is a function, so tests run the loop with a fake trainer.
#ifndef DEEPEVOLVE_WORKER_DAEMON_WORKER_LOOP_H_
#define DEEPEVOLVE_WORKER_DAEMON_WORKER_LOOP_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "deepevolve/v1/service.pb.h"
#include "genome/ledger.h"
#include "genome/trial.h"
#include "worker/daemon/master_client.h"

namespace deepevolve::worker {

using genome::AfterEpoch;
using genome::EpochProgress;

// Called after each epoch. A trainer may also call it with epoch 0, meaning "no epoch
// finished, only asking": it then sends no heartbeat and answers what the master last
// said (a program's runner asks so while its program is silent).
using ProgressFn = std::function<AfterEpoch(const EpochProgress&)>;

// Trains the assignment. A genome that cannot be trained is a result with ok = false.
// An error is about the worker's set-up (a missing dataset): it is reported as a set-up
// failure (FAILURE_KIND_SETUP) with the error's text, which the master never holds
// against the genome. `model` receives the trained model's bytes (may stay
// empty). `checkpoints` (may be null) says when to save the training state and what to
// resume from; a trainer that cannot checkpoint ignores it.
using TrainFn = std::function<absl::StatusOr<genome::TrialResult>(
    const v1::Assignment& assignment, const ProgressFn& progress, std::string* model,
    const genome::Checkpoints* checkpoints)>;

struct WorkerOptions {
  std::string worker_id;
  int64_t incarnation = 0;
  std::vector<v1::Device> devices;
  // The trainer programs it offers (RegisterRequest.trainers), and the built-in one?
  std::vector<std::string> trainers;
  bool builtin_trainer = true;
  absl::Duration acquire_wait = absl::Seconds(10);
  absl::Duration max_backoff = absl::Seconds(5);
  // Stop after this many trials (0: never), for tests and one-shot runs.
  int max_trials = 0;
  // --checkpoint-dir: the directory the master keeps checkpoints in, shared with this
  // worker (a ReadWriteMany volume, NFS). Checkpoints are written there and the one to
  // resume from read there, instead of streamed; empty: streamed.
  std::string checkpoint_dir;
};

class WorkerLoop {
 public:
  WorkerLoop(MasterClient* master, TrainFn train, WorkerOptions options);

  // Runs until Stop() (or max_trials); returns once the trial in hand is reported.
  absl::Status Run();
  // Asks Run to return after the current trial. Async-signal-unsafe: call from a thread.
  void Stop() { stop_ = true; }
  // Also abandons the trial in hand (its lease will expire and it runs elsewhere).
  void Abort() { stop_ = abort_ = true; }
  // Asks Run to return after the epoch in hand: when the trial can resume elsewhere
  // (its search takes checkpoints and the built-in trainer trains it), its progress goes
  // to the master with a checkpoint and the lease is handed back at once; otherwise the
  // trial is finished first, as Stop. Async-signal-unsafe: call from a thread.
  void Drain() {
    drain_ = true;
    stop_ = true;
  }
  int trials_done() const { return trials_done_; }

  // Tries of an epoch's heartbeat the master did not answer (restarting, unreachable)
  // before training goes on without its answer.
  static constexpr int kEpochHeartbeatRetries = 10;

 private:
  absl::Status RegisterWithBackoff();
  // A checkpoint written in the shared directory under a new staging name: that name.
  absl::StatusOr<std::string> StageShared(const std::string& data);
  // The checkpoint `name` in the shared directory, if it can be read.
  absl::StatusOr<std::string> ReadShared(const std::string& name) const;
  // Trains and reports; the report asks for the next genome unless this worker is
  // stopping or at max_trials, and `*next` receives it when the master had one.
  absl::Status RunTrial(const v1::Assignment& assignment, std::optional<v1::Assignment>* next);
  void Backoff(int attempt);

  MasterClient* master_;
  TrainFn train_;
  WorkerOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> abort_{false};
  std::atomic<bool> drain_{false};
  // Whether the master takes checkpoints written in the shared directory (until it
  // says it does not).
  std::atomic<bool> shared_checkpoints_{true};
  int trials_done_ = 0;
  int64_t lease_ms_ = 30'000;
};

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_DAEMON_WORKER_LOOP_H_
