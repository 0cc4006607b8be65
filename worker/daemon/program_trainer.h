// Trainer programs: the operator's own training code, run once per trial as a child
// process that speaks a small JSON-lines protocol (README, "Your own training program").
//
// The worker starts COMMAND with /bin/sh -c (posix_spawn) in a fresh working directory,
// in a process group of its own, and gives it the trial as one JSON object on stdin (then closes
// stdin) and as DEEPEVOLVE_* environment variables. The program writes JSON lines on
// stdout: {"epoch": 1, "val_accuracy": 0.81, "loss": 0.52} after each epoch, and last
// {"accuracy": 0.87, "test_accuracy": 0.86} (or {"error": "...", "kind": "genome" |
// "setup"}). Other stdout lines are ignored with a warning; stderr goes to the worker's
// log and its last lines become a failure's reason.
//
// Whose fault a failure is (FailureKind): a non-zero exit, a death by a signal, a run
// past the time budget and a program's own {"error"} are the genome's (counted as an
// attempt); a command that cannot be started, and a program that breaks the protocol
// (malformed JSON, a line over 1 MiB, an out-of-range number, no final line) are the
// set-up's, which the master never holds against the genome.
#ifndef DEEPEVOLVE_WORKER_DAEMON_PROGRAM_TRAINER_H_
#define DEEPEVOLVE_WORKER_DAEMON_PROGRAM_TRAINER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "deepevolve/v1/service.pb.h"
#include "genome/genome.h"
#include "genome/ledger.h"
#include "worker/daemon/worker_loop.h"

namespace deepevolve::worker {

// One `--trainer NAME[@VERSION]=COMMAND`.
using genome::TrainerProgram;

struct ProgramOptions {
  // The device the worker trains on, "cpu" or "cuda:N": the program sees only that GPU
  // (CUDA_VISIBLE_DEVICES=N) and is told "cuda:0"; on "cpu" it sees none.
  std::string device = "cpu";
  // Threads per trial: OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS and
  // DEEPEVOLVE_THREADS.
  int threads = 1;
  // The worker's data directories, for the program to find its data in.
  std::vector<std::string> data_dirs;
  // Where each trial's fresh working directory is made (and removed after it).
  std::string work_root = "/tmp";
  // A run past this is killed and failed (the genome's fault).
  absl::Duration time_budget = absl::Hours(24);
  // After SIGTERM (the master stopped the genome, the budget ran out), this long before
  // SIGKILL.
  absl::Duration grace = absl::Seconds(10);
};

// Limits on what a program may send.
inline constexpr size_t kMaxProgramLineBytes = size_t{1} << 20;       // one stdout line
inline constexpr int64_t kMaxProgramModelBytes = int64_t{200} << 20;  // the model file
inline constexpr int64_t kMaxProgramCheckpointBytes = int64_t{512} << 20;
inline constexpr int kProgramStderrTailLines = 20;
// How often a running program's `progress` is asked with epoch 0 (no epoch finished)
// whether to go on: a stop or cancel reaches a silent program within this.
inline constexpr absl::Duration kProgramPollInterval = absl::Milliseconds(500);

// Runs `program` on the assignment and waits for it. `progress` is called after each
// epoch line, and with epoch 0 every kProgramPollInterval in between; kStop ends the program
// (SIGTERM, SIGKILL after the grace) and returns the result at that epoch, kCancel ends it and
// returns CANCELLED. A failure of the genome is a result with ok = false; a failure of the set-up
// is an error status (TrainFn). `model` (may be null) receives the file the program wrote at
// model_path, if any. Ignores SIGPIPE in the whole process (a program may exit without reading its
// input).
//
// With `checkpoints` (may be null) the program is offered checkpoint_path: after a
// `{"checkpoint": N}` line (N its last epoch line's) the file there goes to `progress`
// as epoch N's checkpoint, with that epoch's progress again. A checkpoint to resume from
// is written to the working directory as resume_from; a program that begins at epoch 1
// all the same did not resume, and its progress says so.
absl::StatusOr<genome::TrialResult> RunTrainerProgram(
    const TrainerProgram& program, const v1::Assignment& assignment, const ProgramOptions& options,
    const ProgressFn& progress, std::string* model,
    const genome::Checkpoints* checkpoints = nullptr);

// What RunTrainerProgram makes of a program's stdout `output` (lines as it reads them,
// `progress` called after each epoch line), as if the program then exited with status
// 0, with no process. For tests and the fuzzer of the protocol's reader.
absl::StatusOr<genome::TrialResult> ReadProgramOutput(absl::string_view output,
                                                      const v1::Assignment& assignment,
                                                      const ProgressFn& progress);

// The trial as the program gets it on stdin (one line of JSON): genes by name with
// typed values (inactive genes left out), seed (in [0, 2^31)), epochs, dataset, device,
// threads, data_dirs, model_path, workdir, trainer, search_id, genome_id, genome_hash;
// with `checkpoints`, checkpoint_path and checkpoint_every (epochs; 0: by time, as the
// program likes), and with a checkpoint to resume from, resume_from and resume_epoch.
std::string TrialJson(const TrainerProgram& program, const v1::Assignment& assignment,
                      const ProgramOptions& options, const std::string& workdir,
                      const genome::Checkpoints* checkpoints = nullptr);

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_DAEMON_PROGRAM_TRAINER_H_
