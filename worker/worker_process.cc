#include "worker/worker_process.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "genome/genome.h"
#include "spdlog/spdlog.h"
#include "worker/builtin_runner.h"
#include "worker/daemon/grpc_master_client.h"
#include "worker/daemon/host_slots.h"
#include "worker/daemon/trial_runner.h"
#include "worker/daemon/worker_loop.h"
#include "worker/trainer/trainer.h"

namespace deepevolve::worker {
namespace {

std::string Hostname() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace

int RunWorkerProcess(WorkerProcessOptions o) {
  // The flags' values, by the names they go by.
  const std::string& master = o.master;
  std::string& worker_id = o.worker_id;
  const std::string& device = o.device;
  const std::string& slots_dir = o.slots_dir;
  const std::vector<std::string>& data_dirs = o.data_dirs;
  const int threads = o.threads, max_trials = o.max_trials;
  const std::string& check_dataset = o.check_dataset;
  const std::vector<std::string>& trainer_flags = o.trainer_flags;
  const bool no_builtin = o.no_builtin;
  ProgramOptions& program_options = o.program;
  const std::string& health_file = o.health_file;
  const ClientSecurity& security = o.security;
  auto credentials = MakeChannelCredentials(security);
  if (!credentials.ok()) {
    spdlog::error("{}", std::string(credentials.status().message()));
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (!check_dataset.empty()) {
    auto size = trainer::CheckDataset(check_dataset, data_dirs);
    if (!size.ok()) {
      std::fprintf(stderr, "%s\n", std::string(size.status().message()).c_str());
      return 1;
    }
    std::printf("%s: %lld training and %lld test examples\n", check_dataset.c_str(),
                static_cast<long long>(size->train), static_cast<long long>(size->test));
    return 0;
  }
  HostSlots slots(slots_dir);
  if (worker_id.empty()) {
    if (slots.slot() >= 0) {
      worker_id = absl::StrCat(Hostname(), "-", slots.slot());
    } else {
      // Without a slot, host-slot ids could collide and knock each other's leases out.
      worker_id = absl::StrCat(Hostname(), "-pid", getpid());
      spdlog::warn(
          "no slot in {} (not writable?): this worker is {}, and it does not share "
          "the host's cores with the others; give --slots-dir or --id",
          slots_dir, worker_id);
    }
    // A master with mutual TLS knows workers by their certificates' names.
    if (!security.cert_file.empty()) {
      auto name = CertificateName(security.cert_file);
      if (!name.ok()) {
        spdlog::error("{}", std::string(name.status().message()));
        return 2;
      }
      worker_id = absl::StrCat(*name, "/", worker_id);
    }
  }
  trainer::TrainerOptions trainer_options;
  trainer_options.device = device;
  trainer_options.data_dirs = data_dirs;
  auto trainer = trainer::Trainer::Create(trainer_options);
  if (!trainer.ok()) {
    spdlog::error("{}", trainer.status().ToString());
    return 2;
  }
  const int cores = trainer::AvailableCores();
  // The host's cores shared by its live workers, as each trial starts.
  auto trial_threads = [&] { return threads > 0 ? threads : std::max(1, cores / slots.Live()); };
  TrialRunners runners;
  if (!no_builtin) {
    runners.SetBuiltin(std::make_unique<BuiltinRunner>(trainer->get(), trial_threads));
  }
  program_options.device = (*trainer)->device();
  program_options.data_dirs = data_dirs;
  for (const std::string& flag : trainer_flags) {
    absl::StatusOr<genome::TrainerProgram> program = genome::ParseTrainerFlag(flag);
    absl::Status added = program.status();
    if (added.ok()) {
      added = runners.Add(
          program->name, std::make_unique<ProgramRunner>(*program, program_options, trial_threads));
    }
    if (!added.ok()) {
      spdlog::error("{}", std::string(added.message()));
      return 2;
    }
  }
  if (!runners.offers_builtin() && runners.trainers().empty()) {
    spdlog::error("--no-builtin-trainer without any --trainer: this worker would train nothing");
    return 2;
  }

  auto client = MakeGrpcMasterClient(master, *credentials);
  if (!health_file.empty()) {
    client = WithHealthFile(std::move(client), health_file);
  }
  WorkerOptions options;
  options.worker_id = worker_id;
  options.incarnation = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() ^
                        getpid();
  v1::Device d;
  d.set_name((*trainer)->device());
  const std::string blas = trainer::OpenBlasCore();
  d.set_description(absl::StrCat(cores, " cores available",
                                 blas.empty() ? "" : absl::StrCat(", OpenBLAS ", blas)));
  options.devices.push_back(d);
  options.trainers = runners.trainers();
  options.builtin_trainer = runners.offers_builtin();
  options.max_trials = max_trials;
  options.checkpoint_dir = o.checkpoint_dir;
  WorkerLoop loop(
      client.get(),
      [&runners](const v1::Assignment& a, const ProgressFn& progress, std::string* model,
                 const genome::Checkpoints* checkpoints) {
        return runners.Run(a, progress, model, checkpoints);
      },
      options);

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info(
        "signal {}: draining: the epoch in hand goes to the master with a checkpoint and the "
        "genome to another worker (a trial that cannot resume elsewhere is finished first); "
        "then exiting (again to abort)",
        signal);
    loop.Drain();
    sigwait(&signals, &signal);
    loop.Abort();
  });
  signal_thread.detach();
  spdlog::info("worker {} on {} ({}) dialing {}{}", worker_id, (*trainer)->device(),
               d.description(), master,
               runners.trainers().empty()
                   ? ""
                   : absl::StrCat(", offering ", absl::StrJoin(options.trainers, ", "),
                                  no_builtin ? "" : " and the built-in trainer"));
  absl::Status status = loop.Run();
  if (!status.ok()) {
    spdlog::error("{}", status.ToString());
    return 1;
  }
  spdlog::info("worker {} stopped after {} trials", worker_id, loop.trials_done());
  return 0;
}

}  // namespace deepevolve::worker
