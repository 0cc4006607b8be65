#include "worker/daemon/trial_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "genome/space.h"

namespace deepevolve::worker {

absl::StatusOr<genome::NamedGenome> AssignedGenome(const v1::Assignment& a) {
  if (a.gene_names_size() != a.genome().values_size()) {
    return absl::InvalidArgumentError(absl::StrCat("the assignment names ", a.gene_names_size(),
                                                   " genes for ", a.genome().values_size(),
                                                   " values"));
  }
  genome::NamedGenome out;
  for (int i = 0; i < a.gene_names_size(); ++i) {
    const v1::GeneValue& v = a.genome().values(i);
    if (v.value_case() == v1::GeneValue::VALUE_NOT_SET) continue;  // inactive
    out.emplace_back(a.gene_names(i), genome::GeneValueFromProto(v));
  }
  return out;
}

absl::Status TrialRunners::Add(const std::string& trainer, std::unique_ptr<TrialRunner> runner) {
  if (!programs_.emplace(trainer, std::move(runner)).second) {
    return absl::AlreadyExistsError(absl::StrCat("--trainer ", trainer, " is given twice"));
  }
  names_.push_back(trainer);
  return absl::OkStatus();
}

absl::StatusOr<genome::TrialResult> TrialRunners::Run(
    const v1::Assignment& a, const ProgressFn& progress, std::string* model,
    const genome::Checkpoints* checkpoints) const {
  const std::string& trainer = a.task().trainer();
  if (trainer.empty()) {
    if (builtin_ == nullptr) {
      return absl::FailedPreconditionError("this worker does not offer the built-in trainer");
    }
    return builtin_->Run(a, progress, model, checkpoints);
  }
  auto it = programs_.find(trainer);
  if (it == programs_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this worker does not offer trainer ", trainer));
  }
  return it->second->Run(a, progress, model, checkpoints);
}

absl::StatusOr<genome::TrialResult> ProgramRunner::Run(const v1::Assignment& a,
                                                       const ProgressFn& progress,
                                                       std::string* model,
                                                       const genome::Checkpoints* checkpoints) {
  ProgramOptions o = options_;
  o.threads = threads_();
  return RunTrainerProgram(program_, a, o, progress, model, checkpoints);
}

}  // namespace deepevolve::worker
