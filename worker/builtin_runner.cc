#include "worker/builtin_runner.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "genome/genome.h"

namespace deepevolve::worker {

namespace fs = std::filesystem;

absl::StatusOr<genome::TrialResult> BuiltinRunner::Run(const v1::Assignment& a,
                                                       const ProgressFn& progress,
                                                       std::string* model,
                                                       const genome::Checkpoints* checkpoints) {
  ASSIGN_OR_RETURN(const genome::NamedGenome genome, AssignedGenome(a));
  trainer::SetThreads(threads_());
  std::string path;
  if (model != nullptr) {
    // One file per trial, even with trials of one process at once.
    static std::atomic<int64_t> trial{0};
    path = (fs::temp_directory_path() /
            absl::StrCat("deepevolve-model-", getpid(), "-", trial++, ".pt"))
               .string();
  }
  // A round of population-based training goes on from another round's checkpoint: the
  // one of the genome and seed the assignment names.
  genome::Checkpoints from_another;
  if (checkpoints != nullptr && a.has_resume_genome()) {
    v1::Assignment named = a;
    *named.mutable_genome() = a.resume_genome();
    ASSIGN_OR_RETURN(const genome::NamedGenome from, AssignedGenome(named));
    from_another = *checkpoints;
    from_another.resume_identity = genome::TrialIdentity(from, a.task(), a.resume_seed());
    checkpoints = &from_another;
  }
  absl::StatusOr<genome::TrialResult> result =
      trainer_->Train(genome, a.task(), a.seed(), progress, path, checkpoints);
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream bytes;
      bytes << in.rdbuf();
      *model = bytes.str();
    }
    std::error_code ec;
    fs::remove(path, ec);
  }
  return result;
}

}  // namespace deepevolve::worker
