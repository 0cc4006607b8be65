// The flags that describe a search, shared by `deepevolve local` and `submit`, and the
// spec they make.
#ifndef DEEPEVOLVE_CLI_SPEC_FLAGS_H_
#define DEEPEVOLVE_CLI_SPEC_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"

namespace deepevolve::cli {

// 0 and empty mean "not given".
struct SpecFlags {
  std::string spec_file, preset = "fashion_mnist_mlp", strategy, name;
  std::string pruner;   // none, median or asha (defaults: spec.proto); "" as the spec says
  std::string trainer;  // task.trainer: NAME[@VERSION] of a trainer program
  // --checkpoint-every: N epochs, "Ns" seconds, or "none"; "" as the spec says.
  std::string checkpoint_every;
  int population = 0, generations = 0, trials = 0, epochs = 0, train_limit = 0, test_limit = 0;
  int ready_epochs = 0;  // pbt
  uint64_t seed = 0;
  bool compat = false, retrain = false;
  // --objective METRIC:max|min, --constraint 'METRIC<=X' or 'METRIC>=X', each
  // repeatable; given, they replace the spec file's.
  std::vector<std::string> objectives, constraints;
  // --warm-start SEARCH[:N]: begin with the best N (default 8) genomes of search SEARCH.
  std::string warm_start;
};

// The spec file (when given) with the flags over it. INVALID_ARGUMENT, naming the flag,
// for an unknown --strategy or a flag that does not apply to the search's strategy
// (--population with random or grid, --generations with anything but generational,
// --trials with generational), an unknown --pruner, or an --objective or --constraint
// that does not read as one, or a --checkpoint-every that is not N, Ns or none: a flag
// is never taken to mean another strategy. The spec
// file's own errors name the file.
absl::StatusOr<v1::SearchSpec> SpecFromFlags(const SpecFlags& flags);

// An --objective flag, "accuracy:max" or "latency_ms:min" (the goal as written; spec
// resolution checks it). INVALID_ARGUMENT saying how to write one.
absl::StatusOr<v1::Objective> ParseObjective(const std::string& flag);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_SPEC_FLAGS_H_
