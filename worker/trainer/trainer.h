// Trains the network a genome describes on a task. The public face of worker/trainer:
// this header does not include torch.
#ifndef DEEPEVOLVE_WORKER_TRAINER_TRAINER_H_
#define DEEPEVOLVE_WORKER_TRAINER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cores.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/genome.h"
#include "genome/ledger.h"
#include "genome/trial.h"
#include "worker/trainer/process.h"

namespace deepevolve::trainer {

struct TrainerOptions {
  // Extra directories searched for dataset files before the defaults (data.h).
  std::vector<std::string> data_dirs;
  // "auto" (CUDA when LibTorch and the machine have it, else CPU), "cpu", "cuda:N".
  std::string device = "auto";
  // Intra-op threads for this trainer; 0: every core available to the process.
  int threads = 0;
};

using genome::AfterEpoch;
using genome::EpochProgress;
using EpochCallback = std::function<AfterEpoch(const EpochProgress&)>;

// A trial's training state after an epoch, saved so that another worker can resume the
// trial there: the weights and buffers, the optimizer's state, the random generators',
// early stopping's, the metrics and the time trained so far. On the CPU with the same
// threads, a training resumed from a checkpoint ends exactly as the uninterrupted one.
// A checkpoint of another genome, task or seed, or one that cannot be read, is not
// resumed from.
using CheckpointOptions = genome::Checkpoints;

// Thread-compatible: one Trainer trains one genome at a time. Trainers may share a
// process; each loads datasets through a process-wide cache.
class Trainer {
 public:
  // INVALID_ARGUMENT for a device string that is not auto, cpu or cuda:N;
  // FAILED_PRECONDITION for cuda when this LibTorch or machine has none.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainerOptions& options);
  ~Trainer();

  // Trains `genome` on resolved `task`, seeded by `seed`. A genome that cannot be built
  // or trained (shapes collapse, loss becomes NaN) is a result with ok = false and the
  // reason, not an error. Errors are about the setup: NOT_FOUND or INVALID_ARGUMENT /
  // DATA_LOSS for missing or corrupt dataset files (naming them), RESOURCE_EXHAUSTED
  // when the genome does not fit this device (checked against its memory before
  // anything is built, or out of memory while training, naming the device), CANCELLED
  // when `on_epoch` said kCancel (kStop ends training with the result so far, without
  // restoring the best epoch's weights). When `model_path` is not empty the trained
  // weights are saved there with the genome and task as metadata.
  // With `checkpoints`, saves and resumes as CheckpointOptions says.
  absl::StatusOr<genome::TrialResult> Train(const genome::NamedGenome& genome,
                                            const v1::TaskSpec& task, uint64_t seed,
                                            const EpochCallback& on_epoch = nullptr,
                                            const std::string& model_path = "",
                                            const CheckpointOptions* checkpoints = nullptr);

  // The device training runs on ("cpu", "cuda:0").
  std::string device() const;

 private:
  struct State;
  explicit Trainer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A saved model's metadata: the genome (name=value pairs), the task, the result.
struct SavedModel {
  genome::NamedGenome genome;
  v1::TaskSpec task;
  double accuracy = 0;
  double test_accuracy = 0;
};

// How many examples a dataset holds.
struct DatasetSize {
  int64_t train = 0;
  int64_t test = 0;
};

// Loads dataset `name` as Train would (from `data_dirs`, then the defaults, data.h),
// so that a missing or corrupt file is found before any genome is trained. The errors
// are Train's dataset errors, naming the files.
absl::StatusOr<DatasetSize> CheckDataset(const std::string& name,
                                         const std::vector<std::string>& data_dirs);

// Reads a model file written by Train and checks it by evaluating it on the task's
// test set. Returns its metadata and the test accuracy recomputed.
absl::StatusOr<SavedModel> LoadModel(const std::string& path,
                                     const std::vector<std::string>& data_dirs,
                                     double* recomputed_test_accuracy = nullptr);

// Sets the threads LibTorch and the BLAS (OpenBLAS keeps its own pool, which
// torch::set_num_threads does not size) use for the trainings that follow.
void SetThreads(int threads);

// Cores this process may really use (common/cores.h).
using ::deepevolve::AvailableCores;

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_TRAINER_H_
