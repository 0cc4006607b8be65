// A trial's progress as training reports it after each epoch, and what the master's
// answer makes training do next: one vocabulary for the built-in trainer, trainer
// programs' runner and the worker loop.
#ifndef DEEPEVOLVE_GENOME_TRIAL_H_
#define DEEPEVOLVE_GENOME_TRIAL_H_

#include <atomic>
#include <string>

#include "genome/metrics.h"

namespace deepevolve::genome {

struct EpochProgress {
  int epoch = 0;  // 1-based; 0 from a runner only asking while no epoch finished
  int epochs = 0;
  double loss = 0;  // mean training loss of the epoch
  double val_accuracy = 0;
  double elapsed_seconds = 0;
  double val_loss = 0;  // 0 where the trainer does not say
  // The trainer's metrics as they stand after the epoch: those that change by epoch and
  // those known from the start (what a pruner of several objectives compares).
  Metrics metrics;
  // The epoch training resumed after, from a checkpoint (0: it began at the first);
  // when a resume was asked for and failed, why (training then began at the first).
  int resumed_from_epoch = 0;
  std::string resume_error;
  // The training state after this epoch (a checkpoint), when one is due; empty
  // otherwise. The worker sends it with the epoch's progress.
  std::string checkpoint;
};

// Saving a trial's training state after epochs, and resuming from one (a checkpoint):
// what the worker gives a trainer that can.
struct Checkpoints {
  // A checkpoint goes with the progress of every `every_epochs`-th epoch, and of the
  // first epoch that ends `every_seconds` or more after the last one (0 and 0: never)
  // (EpochProgress.checkpoint).
  int every_epochs = 0;
  double every_seconds = 0;
  // When set and true, a checkpoint goes with the next epoch's progress whatever is due
  // (the worker is draining: that epoch is its last).
  const std::atomic<bool>* now = nullptr;
  // A checkpoint to resume from (empty: begin at the first epoch). One that cannot be
  // used is not: training begins at the first epoch, and each progress says why
  // (EpochProgress.resume_error).
  std::string resume;
  // What `resume` must carry to be resumed from (genome::TrialIdentity); empty: the
  // trial's own identity. Another trial's when a round of population-based training
  // goes on from the round before it under other training genes: the network must be
  // the same, and training goes on under the trial's own genes.
  std::string resume_identity;
  // > 0: train through this epoch only; its progress carries a checkpoint whatever is
  // due, and the result is its (a round of population-based training).
  int stop_epoch = 0;
};

// What training does after an epoch, as the master answered its heartbeat.
enum class AfterEpoch {
  kContinue,
  // The search's pruner stopped the genome: train no further and return the result so
  // far (this epoch's validation accuracy and the test accuracy of its weights).
  kStop,
  // The search was cancelled or the lease lost: give up, there is nothing to report
  // (CANCELLED).
  kCancel,
};

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_TRIAL_H_
