// The built-in LibTorch trainer as a TrialRunner: the Keras-style network a genome
// describes, trained on the worker's device.
#ifndef DEEPEVOLVE_WORKER_BUILTIN_RUNNER_H_
#define DEEPEVOLVE_WORKER_BUILTIN_RUNNER_H_

#include <functional>
#include <string>

#include "worker/daemon/trial_runner.h"
#include "worker/trainer/trainer.h"

namespace deepevolve::worker {

class BuiltinRunner : public TrialRunner {
 public:
  // `trainer` outlives this; `threads` says how many threads a trial gets, asked as it
  // starts.
  BuiltinRunner(trainer::Trainer* trainer, std::function<int()> threads)
      : trainer_(trainer), threads_(std::move(threads)) {}

  // The trained model comes back through a file in the temporary directory, removed
  // after it is read. Checkpoints as the trainer takes them (trainer.h).
  absl::StatusOr<genome::TrialResult> Run(const v1::Assignment& assignment,
                                          const ProgressFn& progress, std::string* model,
                                          const genome::Checkpoints* checkpoints) override;

 private:
  trainer::Trainer* const trainer_;
  const std::function<int()> threads_;
};

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_BUILTIN_RUNNER_H_
