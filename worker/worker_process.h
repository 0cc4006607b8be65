// The worker process once its flags are read: set up the trial runners, dial the
// master, run the worker loop until a signal stops it.
#ifndef DEEPEVOLVE_WORKER_WORKER_PROCESS_H_
#define DEEPEVOLVE_WORKER_WORKER_PROCESS_H_

#include <string>
#include <vector>

#include "common/security_flags.h"
#include "worker/daemon/program_trainer.h"

namespace deepevolve::worker {

// deepevolve-worker's flags (worker/main.cc says what each means).
struct WorkerProcessOptions {
  std::string master = "127.0.0.1:50051", worker_id, device = "auto", slots_dir;
  std::vector<std::string> data_dirs;
  int threads = 0, max_trials = 0;
  std::string check_dataset;               // load it, say what is wrong, and exit
  std::vector<std::string> trainer_flags;  // NAME[@VERSION]=COMMAND
  bool no_builtin = false;
  ProgramOptions program;  // the trainer programs' time budget, grace and work root
  std::string health_file;
  // The master's --checkpoint-dir, shared with this worker (WorkerOptions).
  std::string checkpoint_dir;
  ClientSecurity security;
};

// The process's exit code: 0 once stopped, 1 when the loop failed, 2 for a bad set-up.
int RunWorkerProcess(WorkerProcessOptions options);

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_WORKER_PROCESS_H_
