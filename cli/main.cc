// deepevolve: the command-line tool.
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/local.h"
#include "common/spec_file.h"
#include "worker/trainer/trainer.h"

int main(int argc, char** argv) {
  deepevolve::trainer::PrepareProcessForTraining();
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

  // deepevolve local: a whole search on this machine.
  deepevolve::cli::LocalOptions local_options;
  std::string spec_file, preset = "fashion_mnist_mlp", strategy;
  int population = 0, generations = 0, trials = 0, epochs = 0, train_limit = 0, test_limit = 0;
  uint64_t seed = 0;
  bool compat = false, retrain = false, no_live = false;
  CLI::App* local = app.add_subcommand(
      "local", "Run a whole search on this machine: trainers in threads, no servers");
  local->add_option("--spec", spec_file, "search spec file (YAML or JSON); flags override it");
  local->add_option("--preset", preset, "preset when no spec file names one (deepevolve presets)")
      ->capture_default_str();
  local->add_option("--strategy", strategy, "generational, steady_state, random or grid");
  local->add_option("--population", population, "population size");
  local->add_option("--generations", generations, "generations (generational)");
  local->add_option("--trials", trials, "genomes to train (steady_state, random, grid)");
  local->add_option("--epochs", epochs, "epochs per genome (default 4)");
  local->add_option("--train-limit", train_limit, "train on the first N examples only");
  local->add_option("--test-limit", test_limit, "test on the first N examples only");
  local->add_option("--seed", seed, "search seed (default: random, printed)");
  local->add_flag("--compat", compat, "reproduce DeepEvolve's accidents (see README)");
  local->add_flag("--retrain", retrain, "train genomes the ledger already holds");
  local->add_option("--trainers", local_options.trainers, "parallel trainers (default: cores/2)");
  local->add_option("--threads", local_options.threads_per_trainer, "threads per trainer");
  local->add_option("--device", local_options.device, "auto, cpu or cuda:N")->capture_default_str();
  local->add_option("--data-dir", local_options.data_dirs, "directories with dataset files");
  local->add_option("--out", local_options.out_dir, "output directory")->capture_default_str();
  local->add_flag("--no-live", no_live, "print a line per genome instead of a live bar");

  CLI11_PARSE(app, argc, argv);

  if (*local) {
    deepevolve::v1::SearchSpec& spec = local_options.spec;
    if (!spec_file.empty()) {
      auto loaded = deepevolve::LoadSearchSpecFile(spec_file);
      if (!loaded.ok()) {
        std::cerr << "deepevolve local: " << loaded.status().message() << "\n";
        return 1;
      }
      spec = *loaded;
    }
    if (spec.preset().empty() && spec.space().genes_size() == 0) spec.set_preset(preset);
    if (!strategy.empty()) {
      if (strategy == "generational") spec.mutable_generational();
      else if (strategy == "steady_state") spec.mutable_steady_state();
      else if (strategy == "random") spec.mutable_random();
      else if (strategy == "grid") spec.mutable_grid();
      else {
        std::cerr << "deepevolve local: unknown --strategy '" << strategy
                  << "' (known: generational, steady_state, random, grid)\n";
        return 2;
      }
    }
    if (population > 0) {
      if (spec.has_steady_state()) spec.mutable_steady_state()->set_population(population);
      else spec.mutable_generational()->set_population(population);
    }
    if (generations > 0) spec.mutable_generational()->set_generations(generations);
    if (trials > 0) {
      if (spec.has_steady_state()) spec.mutable_steady_state()->set_trials(trials);
      else if (spec.has_random()) spec.mutable_random()->set_trials(trials);
      else if (spec.has_grid()) spec.mutable_grid()->set_trials(trials);
    }
    if (epochs > 0) spec.mutable_task()->set_epochs(epochs);
    if (train_limit > 0) spec.mutable_task()->set_train_limit(train_limit);
    if (test_limit > 0) spec.mutable_task()->set_test_limit(test_limit);
    if (seed > 0) spec.set_seed(seed);
    if (compat) spec.set_deepevolve_compat(true);
    if (retrain) spec.set_retrain(true);
    local_options.live = !no_live;
    return deepevolve::cli::RunLocal(local_options, std::cout, std::cerr);
  }

  if (*hash) return deepevolve::cli::RunHash(genes, verbose, std::cout, std::cerr);
  if (*presets) return deepevolve::cli::RunPresets(std::cout);
  if (*sim) {
    sim_options.per_seed = !quiet;
    return deepevolve::cli::RunSim(sim_options, std::cout, std::cerr);
  }
  return 2;
}
