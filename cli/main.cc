// deepevolve: the command-line tool.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "cli/certs.h"
#include "cli/commands.h"
#include "cli/local.h"
#include "cli/remote.h"
#include "cli/retrain.h"
#include "cli/spec_flags.h"
#include "common/security_flags.h"
#include "master/ga/spec.h"
#include "master/ga/spec_file.h"
#include "master/ga/strategies.h"

namespace {

void AddSpecFlags(CLI::App* app, deepevolve::cli::SpecFlags& f) {
  app->add_option("--spec", f.spec_file, "search spec file (YAML or JSON); flags override it");
  app->add_option("--preset", f.preset, "preset when no spec file names one (deepevolve presets)")
      ->capture_default_str();
  app->add_option("--name", f.name, "a name for the search");
  app->add_option("--strategy", f.strategy, deepevolve::ga::StrategyList());
  app->add_option("--population", f.population, "population size");
  app->add_option("--generations", f.generations, "generations (generational)");
  app->add_option("--trials", f.trials, "genomes to train (steady_state, guided, random, grid)");
  app->add_option("--ready-epochs", f.ready_epochs,
                  "epochs per round of population-based training (pbt; see README)");
  app->add_option("--epochs", f.epochs, "epochs per genome (default 4)");
  app->add_option("--train-limit", f.train_limit, "train on the first N examples only");
  app->add_option("--test-limit", f.test_limit, "test on the first N examples only");
  app->add_option("--seed", f.seed, "search seed (default: random, printed)");
  app->add_flag("--compat", f.compat, "reproduce DeepEvolve's accidents (see README)");
  app->add_flag("--retrain", f.retrain, "train genomes the ledger already holds");
  app->add_option("--pruner", f.pruner,
                  "stop hopeless genomes early: none, median or asha (see README)");
  app->add_option("--checkpoint-every", f.checkpoint_every,
                  "save each trial's training state every N epochs (default 1), every Ns "
                  "seconds, or none, so that a lost worker's genome resumes (see README)");
  app->add_option("--objective", f.objectives,
                  "METRIC:max or METRIC:min, repeatable (default accuracy:max; see README)");
  app->add_option("--constraint", f.constraints,
                  "METRIC<=X or METRIC>=X, repeatable: genomes outside rank last");
  app->add_option("--warm-start", f.warm_start,
                  "SEARCH[:N]: begin with the best N (default 8) genomes of that earlier search");
}

// The spec the flags describe; nullopt after telling stderr what is wrong.
std::optional<deepevolve::v1::SearchSpec> BuildSpec(const deepevolve::cli::SpecFlags& f,
                                                    const std::string& verb) {
  absl::StatusOr<deepevolve::v1::SearchSpec> spec = deepevolve::cli::SpecFromFlags(f);
  if (!spec.ok()) {
    std::cerr << "deepevolve " << verb << ": " << spec.status().message() << "\n";
    return std::nullopt;
  }
  return *std::move(spec);
}

}  // namespace

int main(int argc, char** argv) {
  using deepevolve::cli::SimOptions;
  CLI::App app{"deepevolve: genetic search of neural-network hyperparameters"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "deepevolve 0.1.0");

  std::vector<std::string> genes;
  bool verbose = false;
  CLI::App* hash = app.add_subcommand(
      "hash",
      "Print the MD5 identity of a genome, e.g. "
      "deepevolve hash nb_neurons=64 activation=relu nb_layers=2 optimizer=adam");
  hash->add_option("genes", genes, "name=value for every gene")->required();
  hash->add_flag("-v,--verbose", verbose, "also print the string that is hashed");

  CLI::App* presets = app.add_subcommand("presets", "List the presets and their space sizes");

  SimOptions sim_options;
  CLI::App* sim =
      app.add_subcommand("sim",
                         "Run a strategy against a fitness table (no training) and count the "
                         "evaluations it needs to reach a target");
  sim->add_option("--table", sim_options.table_path,
                  "CSV: one column per gene and an accuracy column")
      ->required();
  sim->add_option("--strategy", sim_options.strategy, deepevolve::ga::StrategyList())
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
  sim->add_option("--candidates", sim_options.candidates,
                  "guided: candidates scored per genome (0: default)");
  sim->add_option("--warmup", sim_options.warmup, "guided: results before the model (0: default)");
  sim->add_option("--explore", sim_options.explore,
                  "guided: chance of an unscreened candidate (default 0.1)");
  sim->add_option("--workers", sim_options.workers,
                  "simulated parallel workers: results arrive out of order")
      ->capture_default_str();
  sim->add_option("--pruner", sim_options.pruner,
                  "none, median or asha: replayed on the table's per-epoch curves, cost in epochs")
      ->capture_default_str();
  sim->add_option("--objective", sim_options.objectives,
                  "METRIC:max or METRIC:min, repeatable: several objectives over the table's "
                  "columns, measured by hypervolume");
  sim->add_option("--warmup-epochs", sim_options.warmup_epochs, "median: warm-up (0: default)");
  sim->add_option("--min-trials", sim_options.min_trials, "median: min trials (0: default)");
  sim->add_option("--min-epochs", sim_options.min_epochs, "asha: first rung (0: default)");
  sim->add_option("--reduction-factor", sim_options.reduction_factor,
                  "asha: reduction factor (0: default)");
  bool quiet = false;
  sim->add_option("--warm-table", sim_options.warm_table,
                  "first search this table (a neighbouring task: same genes, e.g. fewer epochs) "
                  "and begin with its best genomes");
  sim->add_option("--warm-trials", sim_options.warm_trials, "genomes of the warm-up search")
      ->capture_default_str();
  sim->add_option("--warm-best", sim_options.warm_best, "its best genomes to begin with")
      ->capture_default_str();
  sim->add_flag("-q,--quiet", quiet, "print only the summary");

  // deepevolve local: a whole search on this machine.
  deepevolve::cli::LocalOptions local_options;
  deepevolve::cli::SpecFlags local_flags;
  bool no_live = false;
  CLI::App* local = app.add_subcommand(
      "local",
      "Run a whole search on this machine: starts a master and workers on 127.0.0.1, "
      "no set-up");
  AddSpecFlags(local, local_flags);
  local->add_option("--trainers", local_options.trainers, "worker processes (default: cores/2)");
  local->add_option("--threads", local_options.threads_per_trainer, "threads per worker");
  local->add_option("--device", local_options.device, "auto, cpu or cuda:N")->capture_default_str();
  local->add_option("--data-dir", local_options.data_dirs, "directories with dataset files");
  local->add_option("--out", local_options.out_dir, "output directory")->capture_default_str();
  local->add_flag("--no-live", no_live, "print a line per genome instead of a live bar");
  local->add_option("--trainer", local_options.programs,
                    "NAME[@VERSION]=COMMAND: the workers offer this training program of yours; "
                    "the search uses it unless its spec names another (README, \"Your own "
                    "training program\")");

  // deepevolve retrain: a local search's genome trained again for longer.
  deepevolve::cli::RetrainOptions retrain_options;
  deepevolve::cli::LocalOptions retrain_local;
  retrain_local.trainers = 1;
  CLI::App* retrain = app.add_subcommand(
      "retrain",
      "Train a genome a local search found again, for more epochs, keeping the best epoch "
      "(e.g. deepevolve retrain deepevolve-out --epochs 30)");
  retrain
      ->add_option("search", retrain_options.search_dir,
                   "the search's output directory (deepevolve local --out)")
      ->required();
  retrain
      ->add_option("--genome", retrain_options.genome,
                   "hash (or a unique prefix) of the genome; default: the best by validation")
      ->capture_default_str();
  retrain->add_option("--epochs", retrain_options.epochs, "epochs")->capture_default_str();
  retrain
      ->add_option("--patience", retrain_options.patience,
                   "stop after this many epochs without a lower validation loss")
      ->capture_default_str();
  retrain
      ->add_option("--min-delta", retrain_options.min_delta,
                   "a lower validation loss by more than this is an improvement")
      ->capture_default_str();
  retrain->add_option("--train-limit", retrain_options.train_limit,
                      "train on the first N examples, 0 for all (default: as the search did)");
  retrain->add_option("--out", retrain_options.out_dir,
                      "output directory (default: SEARCH/retrain-<hash>-<epochs>)");
  retrain->add_option("--threads", retrain_local.threads_per_trainer, "threads (default: cores)");
  retrain->add_option("--device", retrain_local.device, "auto, cpu or cuda:N")
      ->capture_default_str();
  retrain->add_option("--data-dir", retrain_local.data_dirs, "directories with dataset files");
  retrain->add_flag("--no-live", no_live, "no live progress bar");

  deepevolve::cli::CertsOptions certs_options;
  CLI::App* certs = app.add_subcommand(
      "certs", "Make a development CA, master and worker certificates and a token (OpenSSL)");
  certs->add_option("--out", certs_options.out_dir, "directory to write them to")
      ->capture_default_str();
  certs
      ->add_option("--hosts", certs_options.hosts,
                   "names and addresses of the master (its certificate's subjectAltName)")
      ->delimiter(',')
      ->capture_default_str();
  certs->add_option("--days", certs_options.days, "validity")->capture_default_str();
  certs->add_option("--worker", certs_options.workers,
                    "also a certificate for this worker (worker-NAME.pem and .key), repeatable");

  // The verbs that talk to a master.
  deepevolve::cli::RemoteOptions remote;
  if (const char* env = std::getenv("DEEPEVOLVE_MASTER")) remote.master = env;
  std::string token_file;
  auto add_remote = [&](CLI::App* cmd) {
    cmd->add_option("--master", remote.master, "master address host:port ($DEEPEVOLVE_MASTER)")
        ->capture_default_str();
    cmd->add_flag("--json", remote.json, "print protobuf JSON");
    cmd->add_option("--token-file", token_file,
                    "file with the master's bearer token (default: $DEEPEVOLVE_TOKEN)");
    deepevolve::AddClientSecurityFlags(cmd, &remote.security, /*worker=*/false);
  };
  int64_t search_id = 0;
  deepevolve::cli::SpecFlags submit_flags;
  bool submit_watch = false;
  CLI::App* submit = app.add_subcommand("submit", "Submit a search to a master");
  AddSpecFlags(submit, submit_flags);
  submit->add_option("--trainer", submit_flags.trainer,
                     "NAME[@VERSION]: train with this program, as workers offer it with "
                     "deepevolve-worker --trainer; a NAME without a version runs on the newest one "
                     "offered (default: the built-in trainer)");
  add_remote(submit);
  submit->add_flag("--watch", submit_watch, "then watch it until it ends");
  submit->add_flag("--no-live", no_live, "watch: a line per genome instead of a live bar");
  CLI::App* watch = app.add_subcommand("watch", "Follow a search live until it ends");
  watch->add_option("search", search_id, "search id")->required();
  add_remote(watch);
  watch->add_flag("--no-live", no_live, "a line per genome instead of a live bar");
  CLI::App* status_cmd = app.add_subcommand("status", "Show a search's state and best genome");
  status_cmd->add_option("search", search_id, "search id")->required();
  add_remote(status_cmd);
  CLI::App* list = app.add_subcommand("list", "List the master's searches");
  add_remote(list);
  int top_limit = 10;
  CLI::App* top = app.add_subcommand("top", "Show a search's best genomes");
  top->add_option("search", search_id, "search id")->required();
  top->add_option("-n,--limit", top_limit, "how many")->capture_default_str();
  add_remote(top);
  CLI::App* cancel = app.add_subcommand("cancel", "Cancel a search");
  cancel->add_option("search", search_id, "search id")->required();
  add_remote(cancel);
  std::string export_path = "best_model.pt";
  CLI::App* export_cmd =
      app.add_subcommand("export", "Download a search's best model, or a genome's");
  export_cmd->add_option("search", search_id, "search id")->required();
  export_cmd->add_option("-o,--out", export_path, "file to write")->capture_default_str();
  std::string export_genome;
  export_cmd->add_option("--genome", export_genome,
                         "this genome's model (its id, or the start of its hash) instead of the "
                         "best's: any member of a front of several objectives");
  add_remote(export_cmd);
  deepevolve::cli::SpecFlags import_flags;
  std::vector<std::string> import_files;
  std::string import_source;
  CLI::App* import_cmd = app.add_subcommand(
      "import", "Record another run's finished trials in a master's ledger (a warm start)");
  import_cmd->add_option("files", import_files, "genomes.json or genomes.csv files")->required();
  AddSpecFlags(import_cmd, import_flags);
  import_cmd->add_option("--trainer", import_flags.trainer,
                         "NAME[@VERSION]: the trainer program the trials were trained with");
  import_cmd->add_option("--source", import_source,
                         "where they come from, shown with each trial answered from them "
                         "(default: the files' names)");
  add_remote(import_cmd);

  CLI11_PARSE(app, argc, argv);

  if (*local) {
    auto spec = BuildSpec(local_flags, "local");
    if (!spec.has_value()) return 2;
    local_options.spec = *spec;
    local_options.live = !no_live;
    // Its master reads $DEEPEVOLVE_TOKEN as any master does: send it when it is set.
    if (const char* token = std::getenv("DEEPEVOLVE_TOKEN")) local_options.token = token;
    return deepevolve::cli::RunLocal(local_options, std::cout, std::cerr);
  }
  if (*retrain) {
    retrain_local.live = !no_live;
    if (const char* token = std::getenv("DEEPEVOLVE_TOKEN")) retrain_local.token = token;
    return deepevolve::cli::RunRetrain(retrain_options, retrain_local, std::cout, std::cerr);
  }
  remote.live = !no_live;
  if (!token_file.empty()) {
    auto token = deepevolve::ReadTokenFile(token_file);
    if (!token.ok()) {
      std::cerr << "deepevolve: " << token.status().message() << "\n";
      return 2;
    }
    remote.security.token = *token;
  } else if (const char* env = std::getenv("DEEPEVOLVE_TOKEN")) {
    remote.security.token = env;
  }
  if (*submit) {
    auto spec = BuildSpec(submit_flags, "submit");
    if (!spec.has_value()) return 2;
    return deepevolve::cli::RunSubmit(remote, *spec, submit_watch, std::cout, std::cerr);
  }
  if (*watch) return deepevolve::cli::RunWatch(remote, search_id, std::cout, std::cerr);
  if (*status_cmd) return deepevolve::cli::RunStatus(remote, search_id, std::cout, std::cerr);
  if (*list) return deepevolve::cli::RunList(remote, std::cout, std::cerr);
  if (*top) return deepevolve::cli::RunTop(remote, search_id, top_limit, std::cout, std::cerr);
  if (*cancel) return deepevolve::cli::RunCancel(remote, search_id, std::cout, std::cerr);
  if (*import_cmd) {
    auto spec = BuildSpec(import_flags, "import");
    if (!spec.has_value()) return 2;
    return deepevolve::cli::RunImport(remote, *spec, import_files, import_source, std::cout,
                                      std::cerr);
  }
  if (*export_cmd) {
    return deepevolve::cli::RunExport(remote, search_id, export_genome, export_path, std::cout,
                                      std::cerr);
  }

  if (*certs) {
    if (absl::Status s = deepevolve::cli::MakeCerts(certs_options); !s.ok()) {
      std::cerr << "deepevolve certs: " << s.message() << "\n";
      return 1;
    }
    std::cout << "wrote ca.pem, master.pem/.key, worker.pem/.key and token in "
              << certs_options.out_dir << "\n"
              << "  master: deepevolve-master --tls-cert master.pem --tls-key master.key "
                 "--tls-client-ca ca.pem --token-file token\n"
              << "  worker: deepevolve-worker --tls-ca ca.pem --tls-cert worker.pem --tls-key "
                 "worker.key\n"
              << "  client: deepevolve list --tls-ca ca.pem --token-file token\n";
    return 0;
  }
  if (*hash) return deepevolve::cli::RunHash(genes, verbose, std::cout, std::cerr);
  if (*presets) return deepevolve::cli::RunPresets(std::cout);
  if (*sim) {
    sim_options.per_seed = !quiet;
    return deepevolve::cli::RunSim(sim_options, std::cout, std::cerr);
  }
  return 2;
}
