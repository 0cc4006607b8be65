#include "cli/spec_flags.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "master/ga/spec.h"
#include "master/ga/spec_file.h"
#include "master/ga/strategies.h"

namespace deepevolve::cli {
absl::StatusOr<v1::SearchSpec> SpecFromFlags(const SpecFlags& f) {
  v1::SearchSpec spec;
  if (!f.spec_file.empty()) {
    absl::StatusOr<v1::SearchSpec> loaded = LoadSearchSpecFile(f.spec_file);
    if (!loaded.ok()) return loaded.status();
    spec = *std::move(loaded);
  }
  if (spec.preset().empty() && spec.space().genes_size() == 0) spec.set_preset(f.preset);
  if (!f.name.empty()) spec.set_name(f.name);
  if (!f.strategy.empty() && !ga::SetStrategy(f.strategy, &spec).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown --strategy '", f.strategy,
                                                   "' (known: ", ga::StrategyList(", "), ")"));
  }
  ga::StrategyKnobs knobs;
  knobs.population = f.population;
  knobs.generations = f.generations;
  knobs.trials = f.trials;
  RETURN_IF_ERROR(ga::ApplyStrategyKnobs(knobs, &spec));
  if (!f.trainer.empty()) spec.mutable_task()->set_trainer(f.trainer);
  if (f.epochs > 0) spec.mutable_task()->set_epochs(f.epochs);
  if (f.train_limit > 0) spec.mutable_task()->set_train_limit(f.train_limit);
  if (f.test_limit > 0) spec.mutable_task()->set_test_limit(f.test_limit);
  if (f.seed > 0) spec.set_seed(f.seed);
  if (f.compat) spec.set_deepevolve_compat(true);
  if (f.retrain) spec.set_retrain(true);
  if (f.pruner == "none") {
    spec.clear_pruner();
  } else if (f.pruner == "median") {
    // The spec file's settings for the same pruner stay; another pruner's go.
    if (!spec.pruner().has_median()) spec.mutable_pruner()->mutable_median();
  } else if (f.pruner == "asha") {
    if (!spec.pruner().has_asha()) spec.mutable_pruner()->mutable_asha();
  } else if (!f.pruner.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --pruner '", f.pruner, "' (known: none, median, asha)"));
  }
  return spec;
}

}  // namespace deepevolve::cli
