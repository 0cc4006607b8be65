// `deepevolve retrain DIR`: a genome a local search found, trained again for longer.
//
// It reads the search's spec (DIR/search.json, written by `deepevolve local`) and its
// genomes (DIR/genomes.json), takes the best by validation accuracy (or the one named),
// and runs a one-genome search over the same space and task with more epochs and
// Keras's restore_best_weights, so the result is the best epoch's, not the last's.
#ifndef DEEPEVOLVE_CLI_RETRAIN_H_
#define DEEPEVOLVE_CLI_RETRAIN_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "cli/local.h"
#include "deepevolve/v1/search.pb.h"
#include "nlohmann/json.hpp"

namespace deepevolve::cli {

struct RetrainOptions {
  std::string search_dir;  // a `deepevolve local --out` directory
  std::string genome;      // a hash or a unique prefix of one; "" for the best
  int epochs = 30;
  int patience = 5;      // early stopping on validation loss, then the best epoch kept
  int train_limit = -1;  // the first N training examples, 0 all; -1 the search's
  // An improvement is a drop in validation loss of more than this (Keras's min_delta;
  // the search's DeepEvolve 0.1 would stop a long training as soon as the loss is low).
  double min_delta = 0;
  std::string out_dir;  // "" for SEARCH_DIR/retrain-<hash>-<epochs>
};

// The genome of `genomes` (genomes.json's array) that `wanted` names by hash or unique
// hash prefix, or, when `wanted` is empty, the trained one with the highest validation
// accuracy (the test accuracy plays no part). NOT_FOUND or INVALID_ARGUMENT say why
// none is chosen.
absl::StatusOr<nlohmann::json> PickGenome(const nlohmann::json& genomes, const std::string& wanted);

// The spec that trains `chosen` (an entry of genomes.json) again: `search`'s space and
// task, with `epochs`, early stopping after `patience` epochs without a drop in
// validation loss of more than `min_delta`, restore_best_weights and, unless it is -1,
// `train_limit` (so a search screened on a subset retrains on all), as a grid
// of one genome (each gene lists the chosen value first, so the grid's first genome is
// it; the genome keeps its hash). INVALID_ARGUMENT when `chosen` is not a genome of
// that space.
absl::StatusOr<v1::SearchSpec> RetrainSpec(const v1::SearchSpec& search,
                                           const nlohmann::json& chosen, int epochs, int patience,
                                           int train_limit = -1, double min_delta = 0);

// Runs it as `deepevolve local` does (`local` gives the trainers, device, data
// directories and live output; its spec and out_dir are set here), then prints the
// genome's accuracy before and after. Returns 0, or 1 after saying what went wrong.
int RunRetrain(const RetrainOptions& options, LocalOptions local, std::ostream& out,
               std::ostream& err);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_RETRAIN_H_
