// The worker's trial, behind one interface: a trial in, progress after each epoch out
// (whose answer continues, stops or cancels it), a result. The built-in LibTorch
// trainer (worker/builtin_runner.h) and trainer programs (ProgramRunner) are runners;
// TrialRunners picks one by the trainer a search names.
#ifndef DEEPEVOLVE_WORKER_DAEMON_TRIAL_RUNNER_H_
#define DEEPEVOLVE_WORKER_DAEMON_TRIAL_RUNNER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/service.pb.h"
#include "genome/genome.h"
#include "genome/ledger.h"
#include "worker/daemon/program_trainer.h"
#include "worker/daemon/worker_loop.h"

namespace deepevolve::worker {

class TrialRunner {
 public:
  virtual ~TrialRunner() = default;
  // Trains the assignment's genome, calling `progress` after each epoch (the worker
  // loop's TrainFn contract: a genome that cannot be trained is a result with ok =
  // false, an error is the set-up's). `model` (may be null) receives the trained
  // model's bytes; `checkpoints` (may be null), as TrainFn's.
  virtual absl::StatusOr<genome::TrialResult> Run(const v1::Assignment& assignment,
                                                  const ProgressFn& progress, std::string* model,
                                                  const genome::Checkpoints* checkpoints) = 0;
};

// The assignment's genome by gene name; an inactive gene (no value) is left out.
// INVALID_ARGUMENT when names and values do not pair up.
absl::StatusOr<genome::NamedGenome> AssignedGenome(const v1::Assignment& assignment);

// The runners a worker offers: the built-in trainer's, and a program's per trainer
// name. Thread-compatible once set up; Run may be called from several threads when the
// runners allow it.
class TrialRunners {
 public:
  // The built-in trainer's runner; never called when none is set (not offered).
  void SetBuiltin(std::unique_ptr<TrialRunner> runner) { builtin_ = std::move(runner); }
  // ALREADY_EXISTS for a name offered twice.
  absl::Status Add(const std::string& trainer, std::unique_ptr<TrialRunner> runner);

  bool offers_builtin() const { return builtin_ != nullptr; }
  // The trainers' names in the order they were added (RegisterRequest.trainers).
  const std::vector<std::string>& trainers() const { return names_; }

  // Runs the assignment on the runner of its task's trainer (the built-in one when it
  // names none). FAILED_PRECONDITION naming what this worker does not offer.
  absl::StatusOr<genome::TrialResult> Run(const v1::Assignment& assignment,
                                          const ProgressFn& progress, std::string* model,
                                          const genome::Checkpoints* checkpoints) const;

 private:
  std::unique_ptr<TrialRunner> builtin_;
  std::map<std::string, std::unique_ptr<TrialRunner>> programs_;
  std::vector<std::string> names_;
};

// A trainer program, one child process per trial (program_trainer.h). `threads` says
// how many threads a trial gets, asked as it starts (the host's cores are shared by its
// workers).
class ProgramRunner : public TrialRunner {
 public:
  ProgramRunner(TrainerProgram program, ProgramOptions options, std::function<int()> threads)
      : program_(std::move(program)), options_(std::move(options)), threads_(std::move(threads)) {}

  absl::StatusOr<genome::TrialResult> Run(const v1::Assignment& assignment,
                                          const ProgressFn& progress, std::string* model,
                                          const genome::Checkpoints* checkpoints) override;

 private:
  const TrainerProgram program_;
  const ProgramOptions options_;
  const std::function<int()> threads_;
};

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_DAEMON_TRIAL_RUNNER_H_
