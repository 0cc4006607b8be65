// `deepevolve local`: a whole search on this machine. It starts a real master and
// worker processes on 127.0.0.1 (the same programs a cluster runs), submits the
// search, watches it, writes the results, and stops them.
#ifndef DEEPEVOLVE_CLI_LOCAL_H_
#define DEEPEVOLVE_CLI_LOCAL_H_

#include <ostream>
#include <string>
#include <vector>

#include "deepevolve/v1/search.pb.h"

namespace deepevolve::cli {

struct LocalOptions {
  v1::SearchSpec spec;          // as submitted; resolved by RunLocal
  int trainers = 0;             // 0: chosen from the cores
  int threads_per_trainer = 0;  // 0: cores / trainers
  std::string device = "auto";
  std::vector<std::string> data_dirs;  // searched before the defaults
  std::string out_dir = "deepevolve-out";
  bool live = true;   // redraw a progress line on a terminal
  std::string token;  // bearer token the master is started with ("" none)
  // Trainer programs the workers offer, "NAME[@VERSION]=COMMAND" (deepevolve-worker
  // --trainer); with one, a spec that names no trainer uses it.
  std::vector<std::string> programs;
};

// Runs the search to the end: progress on `err`, the top 5 on `out`, the resolved spec
// (seed included) in out_dir/search.json, every genome in out_dir/genomes.csv and
// genomes.json, the best model in out_dir/best_model.pt.
// The master's database, out_dir/ledger.db, keeps the ledger: a later search with the
// same out_dir gets its genomes from there instead of training them again. Logs of
// the master and each worker are in out_dir/*.log.
// Returns 0, or 1 after printing what went wrong (bad spec, missing dataset, ...).
int RunLocal(const LocalOptions& options, std::ostream& out, std::ostream& err);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_LOCAL_H_
