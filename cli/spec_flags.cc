#include "cli/spec_flags.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "master/ga/spec_file.h"
#include "master/ga/spec.h"

namespace deepevolve::cli {
namespace {

absl::Status DoesNotApply(const char* flag, const v1::SearchSpec& spec, const char* applies_to) {
  return absl::InvalidArgumentError(absl::StrCat(flag, " does not apply to the ",
                                                 ga::StrategyName(spec), " strategy (only to ",
                                                 applies_to, ")"));
}

}  // namespace

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
    return absl::InvalidArgumentError(absl::StrCat("unknown --strategy '", f.strategy, "' (known: ",
                                                   absl::StrJoin(ga::StrategyNames(), ", "), ")"));
  }
  // A spec without a strategy is generational.
  const bool generational =
      !spec.has_steady_state() && !spec.has_guided() && !spec.has_random() && !spec.has_grid();
  if (f.population > 0) {
    if (spec.has_steady_state()) {
      spec.mutable_steady_state()->set_population(f.population);
    } else if (spec.has_guided()) {
      spec.mutable_guided()->set_population(f.population);
    } else if (generational) {
      spec.mutable_generational()->set_population(f.population);
    } else {
      return DoesNotApply("--population", spec, "generational, steady_state and guided");
    }
  }
  if (f.generations > 0) {
    if (!generational) return DoesNotApply("--generations", spec, "generational");
    spec.mutable_generational()->set_generations(f.generations);
  }
  if (f.trials > 0) {
    if (spec.has_steady_state()) {
      spec.mutable_steady_state()->set_trials(f.trials);
    } else if (spec.has_guided()) {
      spec.mutable_guided()->set_trials(f.trials);
    } else if (spec.has_random()) {
      spec.mutable_random()->set_trials(f.trials);
    } else if (spec.has_grid()) {
      spec.mutable_grid()->set_trials(f.trials);
    } else {
      return DoesNotApply("--trials", spec, "steady_state, guided, random and grid");
    }
  }
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
