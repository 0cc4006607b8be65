// deepevolve: the command-line tool.
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

int main(int argc, char** argv) {
  using deepevolve::cli::SimOptions;
  CLI::App app{"deepevolve: genetic search of neural-network hyperparameters"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "deepevolve 0.1.0");

  std::vector<std::string> genes;
  bool verbose = false;
  CLI::App* hash = app.add_subcommand(
      "hash", "Print the MD5 identity of a genome, e.g. "
              "deepevolve hash nb_neurons=64 activation=relu nb_layers=2 optimizer=adam");
  hash->add_option("genes", genes, "name=value for every gene")->required();
  hash->add_flag("-v,--verbose", verbose, "also print the string that is hashed");

  CLI::App* presets = app.add_subcommand("presets", "List the presets and their space sizes");

  SimOptions sim_options;
  CLI::App* sim = app.add_subcommand(
      "sim", "Run a strategy against a fitness table (no training) and count the "
             "evaluations it needs to reach a target");
  sim->add_option("--table", sim_options.table_path,
                  "CSV: one column per gene and an accuracy column")
      ->required();
  sim->add_option("--strategy", sim_options.strategy,
                  "generational, generational_compat, steady_state, random or grid")
      ->capture_default_str();
  sim->add_option("--target", sim_options.target,
                  "accuracy to reach, or best-<gap> (relative to the table's best)")
      ->capture_default_str();
  sim->add_option("--seeds", sim_options.seeds, "number of seeded runs")->capture_default_str();
  sim->add_option("--first-seed", sim_options.first_seed, "seed of the first run")
      ->capture_default_str();
  sim->add_option("--population", sim_options.population, "population (0: default)");
  sim->add_option("--generations", sim_options.generations, "generations (0: default)");
  sim->add_option("--trials", sim_options.trials, "trial budget (0: default)");
  sim->add_option("--tournament", sim_options.tournament_size, "tournament size (0: default)");
  bool quiet = false;
  sim->add_flag("-q,--quiet", quiet, "print only the summary");

  CLI11_PARSE(app, argc, argv);

  if (*hash) return deepevolve::cli::RunHash(genes, verbose, std::cout, std::cerr);
  if (*presets) return deepevolve::cli::RunPresets(std::cout);
  if (*sim) {
    sim_options.per_seed = !quiet;
    return deepevolve::cli::RunSim(sim_options, std::cout, std::cerr);
  }
  return 2;
}
