// Model files: a trained network's weights and batch-norm statistics in LibTorch's
// archive format, with the genome, the task and the result as JSON metadata
// ("deepevolve-model-v1"). LoadModel, which reads them, is declared in trainer.h for
// callers without torch; this header is for worker/trainer only.
#ifndef DEEPEVOLVE_WORKER_TRAINER_MODEL_FILE_H_
#define DEEPEVOLVE_WORKER_TRAINER_MODEL_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/genome.h"
#include "genome/ledger.h"
#include "worker/trainer/model.h"

namespace deepevolve::trainer {

// Writes `model` (moved to the CPU) to `path` with its metadata.
absl::Status SaveModel(KerasNet& model, const std::string& path, const genome::NamedGenome& genome,
                       const v1::TaskSpec& task, const genome::TrialResult& result);

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_MODEL_FILE_H_
