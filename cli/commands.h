// The `deepevolve` verbs, as functions that write to streams so tests can run them.
// Each returns the process exit code: 0 on success, 1 on a failure it reported on `err`,
// 2 for bad arguments.
#ifndef DEEPEVOLVE_CLI_COMMANDS_H_
#define DEEPEVOLVE_CLI_COMMANDS_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace deepevolve::cli {

// `deepevolve hash name=value ...`: the genome's MD5 and the string it hashes.
int RunHash(const std::vector<std::string>& assignments, bool verbose, std::ostream& out,
            std::ostream& err);

// `deepevolve presets`: each preset with its dataset, net kind, genes and space size.
int RunPresets(std::ostream& out);

struct SimOptions {
  std::string table_path;
  std::string strategy =
      "generational";  // generational, generational_compat, steady_state, guided, random, grid
  std::string target = "best-0.005";  // an accuracy, or "best-<gap>"
  int seeds = 100;
  uint64_t first_seed = 1;
  // Strategy parameters; 0 keeps the strategy's default.
  int population = 0;
  int generations = 0;
  int trials = 0;
  int tournament_size = 0;
  int candidates = 0, warmup = 0;  // guided
  double explore = -1;             // guided: < 0 is the default
  // Simulated workers training at once; each genome's epochs take a random time, so
  // results arrive out of order.
  int workers = 1;
  std::string pruner = "none";  // none, median or asha, on the table's curves
  // The pruner's settings; 0 keeps its default.
  int warmup_epochs = 0, min_trials = 0;     // median
  int min_epochs = 0, reduction_factor = 0;  // asha
  bool per_seed = true;
  // --objective METRIC:max|min, repeatable: a search of several objectives over the
  // table's columns of those names, measured by hypervolume instead of a target.
  std::vector<std::string> objectives;
  // --warm-table: each seed first runs the same strategy for warm_trials genomes on this
  // table (a neighbouring task's: the same genes, e.g. fewer epochs), then the search on
  // --table begins with that run's best warm_best genomes (SearchSpec.warm_start). Its
  // evaluations and epochs are reported beside the search's.
  std::string warm_table;
  int warm_trials = 30, warm_best = 8;
};

// `deepevolve sim`: evaluations to target per seed, the median and 90th percentile,
// and brute force's expected cost beside them; with objectives, the share of the
// table's hypervolume after 50, 100 and 200 evaluations (median, 10th percentile)
// beside random order's.
int RunSim(const SimOptions& options, std::ostream& out, std::ostream& err);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_COMMANDS_H_
