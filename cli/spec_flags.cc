#include "cli/spec_flags.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "master/ga/spec.h"
#include "master/ga/spec_file.h"
#include "master/ga/strategies.h"

namespace deepevolve::cli {

absl::StatusOr<v1::Objective> ParseObjective(const std::string& flag) {
  const size_t colon = flag.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == flag.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--objective '", flag, "': write METRIC:max or METRIC:min (e.g. params:min)"));
  }
  v1::Objective o;
  o.set_metric(flag.substr(0, colon));
  o.set_goal(flag.substr(colon + 1));
  return o;
}

namespace {

// "params<=1e6", "accuracy>=0.85".
absl::StatusOr<v1::Constraint> ParseConstraint(const std::string& flag) {
  v1::Constraint c;
  for (const char* op : {"<=", ">="}) {
    const size_t at = flag.find(op);
    if (at == std::string::npos || at == 0) continue;
    double bound = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(flag.substr(at + 2)), &bound)) break;
    c.set_metric(std::string(absl::StripAsciiWhitespace(flag.substr(0, at))));
    op[0] == '<' ? c.set_max(bound) : c.set_min(bound);
    return c;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--constraint '", flag, "': write METRIC<=NUMBER or METRIC>=NUMBER (e.g. params<=1e6)"));
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
    return absl::InvalidArgumentError(absl::StrCat("unknown --strategy '", f.strategy,
                                                   "' (known: ", ga::StrategyList(", "), ")"));
  }
  ga::StrategyKnobs knobs;
  knobs.population = f.population;
  knobs.generations = f.generations;
  knobs.trials = f.trials;
  knobs.ready_epochs = f.ready_epochs;
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
  if (!f.checkpoint_every.empty()) {
    spec.clear_checkpoint();
    absl::string_view every = f.checkpoint_every;
    int epochs = 0;
    double seconds = 0;
    if (every == "none") {
      spec.mutable_checkpoint()->set_disabled(true);
    } else if (absl::SimpleAtoi(every, &epochs) && epochs > 0) {
      spec.mutable_checkpoint()->set_every_epochs(epochs);
    } else if (absl::ConsumeSuffix(&every, "s") && absl::SimpleAtod(every, &seconds) &&
               seconds > 0) {
      spec.mutable_checkpoint()->set_every_seconds(seconds);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--checkpoint-every '", f.checkpoint_every,
                       "': N (every N epochs), Ns (every N seconds) or none"));
    }
  }
  if (!f.warm_start.empty()) {
    int64_t search = 0;
    int best = 0;
    const std::vector<std::string> parts = absl::StrSplit(f.warm_start, ':');
    if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &search) || search <= 0 ||
        (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &best) || best <= 0))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--warm-start '", f.warm_start, "': SEARCH or SEARCH:N (a search id, N genomes)"));
    }
    spec.clear_warm_start();
    spec.mutable_warm_start()->set_search_id(search);
    spec.mutable_warm_start()->set_best(best);
  }
  if (!f.objectives.empty()) spec.clear_objectives();
  for (const std::string& flag : f.objectives) {
    ASSIGN_OR_RETURN(*spec.add_objectives(), ParseObjective(flag));
  }
  if (!f.constraints.empty()) spec.clear_constraints();
  for (const std::string& flag : f.constraints) {
    ASSIGN_OR_RETURN(*spec.add_constraints(), ParseConstraint(flag));
  }
  return spec;
}

}  // namespace deepevolve::cli
