// deepevolve-worker: dials a master, pulls genomes, trains them with LibTorch, reports.
#include <unistd.h>

#include <string>
#include <utility>

#include "CLI/CLI.hpp"
#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/security_flags.h"
#include "worker/trainer/trainer.h"
#include "worker/worker_process.h"

int main(int argc, char** argv) {
  // A crash leaves its stack in the worker's log.
  absl::InitializeSymbolizer(argv[0]);
  absl::InstallFailureSignalHandler({});
  deepevolve::trainer::PrepareProcessForTraining();
  CLI::App app{"deepevolve-worker: trains the genomes a deepevolve master hands out"};
  deepevolve::worker::WorkerProcessOptions o;
  o.slots_dir = absl::StrCat("/tmp/deepevolve-slots-", getuid());
  app.add_option("--master", o.master, "master address host:port")->capture_default_str();
  app.add_option("--id", o.worker_id,
                 "worker id, stable across restarts (default: host-slot, after the name of its "
                 "certificate and a / with --tls-cert)");
  app.add_option("--device", o.device, "auto, cpu or cuda:N")->capture_default_str();
  app.add_option("--threads", o.threads,
                 "threads per trial (0: this host's available cores split between its workers)");
  app.add_option("--data-dir", o.data_dirs, "extra directories to look for dataset files in");
  app.add_option("--slots-dir", o.slots_dir, "where workers of this host coordinate core sharing")
      ->capture_default_str();
  app.add_option("--max-trials", o.max_trials, "exit after this many trials (0: never)");
  app.add_option("--check-dataset", o.check_dataset,
                 "load this dataset from the data directories, say what is wrong if it cannot "
                 "be, and exit");
  app.add_option("--trainer", o.trainer_flags,
                 "NAME[@VERSION]=COMMAND: offer a training program of your own; searches whose "
                 "task.trainer is NAME[@VERSION] go to workers offering it (repeatable; README, "
                 "\"Your own training program\")");
  app.add_flag("--no-builtin-trainer", o.no_builtin,
               "offer only the --trainer programs, not the built-in LibTorch trainer");
  double trial_timeout_s = 86400, trainer_grace_s = 10;
  app.add_option("--trial-timeout", trial_timeout_s,
                 "seconds a training program may run on one trial before it is killed and the "
                 "trial failed")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--trainer-grace", trainer_grace_s,
                 "seconds between SIGTERM and SIGKILL when a training program is stopped")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--trainer-work-dir", o.program.work_root,
                 "where each program trial gets its fresh working directory")
      ->capture_default_str();
  app.add_option("--checkpoint-dir", o.checkpoint_dir,
                 "the master's --checkpoint-dir, shared with this worker (a ReadWriteMany volume, "
                 "NFS): checkpoints are written and read there instead of streamed");
  app.add_option("--health-file", o.health_file,
                 "touch this file whenever the master answers (for container health checks)");
  deepevolve::AddClientSecurityFlags(&app, &o.security, /*worker=*/true);
  CLI11_PARSE(app, argc, argv);
  o.program.time_budget = absl::Seconds(trial_timeout_s);
  o.program.grace = absl::Seconds(trainer_grace_s);
  return deepevolve::worker::RunWorkerProcess(std::move(o));
}
