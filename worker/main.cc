// deepevolve-worker: dials a master, pulls genomes, trains them with LibTorch, reports.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/security_flags.h"
#include "genome/genome.h"
#include "genome/space.h"
#include "spdlog/spdlog.h"
#include "worker/daemon/grpc_master_client.h"
#include "worker/daemon/host_slots.h"
#include "worker/daemon/program_trainer.h"
#include "worker/daemon/worker_loop.h"
#include "worker/trainer/trainer.h"

namespace {

namespace fs = std::filesystem;

std::string Hostname() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  // A crash leaves its stack in the worker's log.
  absl::InitializeSymbolizer(argv[0]);
  absl::InstallFailureSignalHandler({});
  deepevolve::trainer::PrepareProcessForTraining();
  CLI::App app{"deepevolve-worker: trains the genomes a deepevolve master hands out"};
  std::string master = "127.0.0.1:50051", worker_id, device = "auto",
              slots_dir = absl::StrCat("/tmp/deepevolve-slots-", getuid());
  std::vector<std::string> data_dirs;
  int threads = 0, max_trials = 0;
  app.add_option("--master", master, "master address host:port")->capture_default_str();
  app.add_option("--id", worker_id,
                 "worker id, stable across restarts (default: host-slot, after the name of its "
                 "certificate and a / with --tls-cert)");
  app.add_option("--device", device, "auto, cpu or cuda:N")->capture_default_str();
  app.add_option("--threads", threads,
                 "threads per trial (0: this host's available cores split between its workers)");
  app.add_option("--data-dir", data_dirs, "extra directories to look for dataset files in");
  app.add_option("--slots-dir", slots_dir, "where workers of this host coordinate core sharing")
      ->capture_default_str();
  app.add_option("--max-trials", max_trials, "exit after this many trials (0: never)");
  std::string check_dataset;
  app.add_option("--check-dataset", check_dataset,
                 "load this dataset from the data directories, say what is wrong if it cannot "
                 "be, and exit");
  std::vector<std::string> trainer_flags;
  app.add_option("--trainer", trainer_flags,
                 "NAME[@VERSION]=COMMAND: offer a training program of your own; searches whose "
                 "task.trainer is NAME[@VERSION] go to workers offering it (repeatable; README, "
                 "\"Your own training program\")");
  bool no_builtin = false;
  app.add_flag("--no-builtin-trainer", no_builtin,
               "offer only the --trainer programs, not the built-in LibTorch trainer");
  deepevolve::worker::ProgramOptions program_options;
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
  app.add_option("--trainer-work-dir", program_options.work_root,
                 "where each program trial gets its fresh working directory")
      ->capture_default_str();
  std::string health_file;
  app.add_option("--health-file", health_file,
                 "touch this file whenever the master answers (for container health checks)");
  deepevolve::ClientSecurity security;
  deepevolve::AddClientSecurityFlags(&app, &security, /*worker=*/true);
  CLI11_PARSE(app, argc, argv);
  std::vector<deepevolve::worker::TrainerProgram> programs;
  for (const std::string& flag : trainer_flags) {
    auto program = deepevolve::genome::ParseTrainerFlag(flag);
    if (!program.ok()) {
      spdlog::error("{}", std::string(program.status().message()));
      return 2;
    }
    for (const auto& p : programs) {
      if (p.name == program->name) {
        spdlog::error("--trainer {} is given twice", p.name);
        return 2;
      }
    }
    programs.push_back(*std::move(program));
  }
  if (no_builtin && programs.empty()) {
    spdlog::error("--no-builtin-trainer without any --trainer: this worker would train nothing");
    return 2;
  }
  program_options.time_budget = absl::Seconds(trial_timeout_s);
  program_options.grace = absl::Seconds(trainer_grace_s);
  auto credentials = deepevolve::MakeChannelCredentials(security);
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
    auto size = deepevolve::trainer::CheckDataset(check_dataset, data_dirs);
    if (!size.ok()) {
      std::fprintf(stderr, "%s\n", std::string(size.status().message()).c_str());
      return 1;
    }
    std::printf("%s: %lld training and %lld test examples\n", check_dataset.c_str(),
                static_cast<long long>(size->train), static_cast<long long>(size->test));
    return 0;
  }
  deepevolve::worker::HostSlots slots(slots_dir);
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
      auto name = deepevolve::CertificateName(security.cert_file);
      if (!name.ok()) {
        spdlog::error("{}", std::string(name.status().message()));
        return 2;
      }
      worker_id = absl::StrCat(*name, "/", worker_id);
    }
  }
  deepevolve::trainer::TrainerOptions trainer_options;
  trainer_options.device = device;
  trainer_options.data_dirs = data_dirs;
  auto trainer = deepevolve::trainer::Trainer::Create(trainer_options);
  if (!trainer.ok()) {
    spdlog::error("{}", trainer.status().ToString());
    return 2;
  }
  const int cores = deepevolve::trainer::AvailableCores();

  auto train = [&](const deepevolve::v1::Assignment& a,
                   const deepevolve::worker::ProgressFn& progress,
                   std::string* model) -> absl::StatusOr<deepevolve::genome::TrialResult> {
    if (a.gene_names_size() != a.genome().values_size()) {
      return absl::InvalidArgumentError(absl::StrCat("the assignment names ", a.gene_names_size(),
                                                     " genes for ", a.genome().values_size(),
                                                     " values"));
    }
    deepevolve::genome::NamedGenome genome;
    for (int i = 0; i < a.gene_names_size(); ++i) {
      // An inactive gene comes without a value.
      if (a.genome().values(i).value_case() == deepevolve::v1::GeneValue::VALUE_NOT_SET) continue;
      genome.emplace_back(a.gene_names(i),
                          deepevolve::genome::GeneValueFromProto(a.genome().values(i)));
    }
    const int n = threads > 0 ? threads : std::max(1, cores / slots.Live());
    if (!a.task().trainer().empty()) {
      for (const auto& program : programs) {
        if (program.name != a.task().trainer()) continue;
        deepevolve::worker::ProgramOptions o = program_options;
        o.device = (*trainer)->device();
        o.threads = n;
        o.data_dirs = data_dirs;
        return deepevolve::worker::RunTrainerProgram(program, a, o, progress, model);
      }
      return absl::FailedPreconditionError(
          absl::StrCat("this worker does not offer trainer ", a.task().trainer()));
    }
    if (no_builtin) {
      return absl::FailedPreconditionError("this worker does not offer the built-in trainer");
    }
    deepevolve::trainer::SetThreads(n);
    std::string path;
    if (model != nullptr) {
      path =
          (fs::temp_directory_path() / absl::StrCat("deepevolve-model-", getpid(), ".pt")).string();
    }
    auto result = (*trainer)->Train(
        genome, a.task(), a.seed(),
        [&](const deepevolve::trainer::EpochProgress& p) {
          using deepevolve::trainer::AfterEpoch;
          switch (progress({p.epoch, p.epochs, p.loss, p.val_accuracy, p.elapsed_seconds})) {
            case deepevolve::worker::AfterEpoch::kContinue:
              return AfterEpoch::kContinue;
            case deepevolve::worker::AfterEpoch::kStop:
              return AfterEpoch::kStop;
            case deepevolve::worker::AfterEpoch::kCancel:
              break;
          }
          return AfterEpoch::kCancel;
        },
        path);
    if (!path.empty()) {
      std::ifstream in(path, std::ios::binary);
      if (in) {
        std::ostringstream bytes;
        bytes << in.rdbuf();
        *model = bytes.str();
      }
      std::error_code ec;
      fs::remove(path, ec);
    }
    return result;
  };

  auto client = deepevolve::worker::MakeGrpcMasterClient(master, *credentials);
  if (!health_file.empty()) {
    client = deepevolve::worker::WithHealthFile(std::move(client), health_file);
  }
  deepevolve::worker::WorkerOptions options;
  options.worker_id = worker_id;
  options.incarnation = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() ^
                        getpid();
  deepevolve::v1::Device d;
  d.set_name((*trainer)->device());
  const std::string blas = deepevolve::trainer::OpenBlasCore();
  d.set_description(absl::StrCat(cores, " cores available",
                                 blas.empty() ? "" : absl::StrCat(", OpenBLAS ", blas)));
  options.devices.push_back(d);
  for (const auto& p : programs) options.trainers.push_back(p.name);
  options.builtin_trainer = !no_builtin;
  options.max_trials = max_trials;
  deepevolve::worker::WorkerLoop loop(client.get(), train, options);

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("signal {}: finishing the trial in hand, then exiting (again to abort)", signal);
    loop.Stop();
    sigwait(&signals, &signal);
    loop.Abort();
  });
  signal_thread.detach();
  spdlog::info("worker {} on {} ({}) dialing {}{}", worker_id, (*trainer)->device(),
               d.description(), master,
               programs.empty() ? ""
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
