// fake-worker: the real worker loop and gRPC client with a trainer that only pretends.
// Its accuracy is a fixed function of the genome hash, and so is its `params` metric
// (with each epoch and in the result, for searches of several objectives); each epoch
// takes --epoch-ms, and genomes whose hash starts with --fail-prefix fail like a NaN loss.
// With --gene-matters NAME, that numeric gene decides most of the accuracy (a gene
// whose importance is known). Fault tests kill, stop and restart these processes for real.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/security_flags.h"
#include "spdlog/spdlog.h"
#include "tests/testing/fake_accuracy.h"
#include "worker/daemon/grpc_master_client.h"
#include "worker/daemon/worker_loop.h"

using ::deepevolve::testing::FakeAccuracy;

int main(int argc, char** argv) {
  // SIGTERM is taken by a thread of its own (below), blocked before any other thread
  // (gRPC's) starts, so that none of them dies of it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  CLI::App app{"fake-worker: a deepevolve worker whose trainer pretends"};
  std::string master, worker_id, fail_prefix, trace_path, epoch_trace_path, gene_matters;
  int epoch_ms = 0, max_trials = 0, freeze_after = 0;
  bool hang = false;
  app.add_option("--master", master)->required();
  app.add_option("--id", worker_id)->required();
  app.add_option("--epoch-ms", epoch_ms, "pretended time per epoch");
  app.add_option("--fail-prefix", fail_prefix, "genomes whose hash starts so fail");
  app.add_option("--max-trials", max_trials);
  app.add_option("--gene-matters", gene_matters,
                 "this numeric gene's value v decides most of the accuracy: "
                 "0.5 + 0.4 v / (v + 64), and the hash adds under 0.04");
  app.add_flag("--hang", hang,
               "the trainer hangs in its first epoch and never returns, while the worker's "
               "heartbeat thread goes on (a deadlock, a stuck read, a GPU hang)");
  app.add_option("--trace", trace_path,
                 "append 'start <hash> <worker>' to this file as each training starts");
  app.add_option("--epoch-trace", epoch_trace_path,
                 "append 'epoch <hash> <epoch> <worker>' to this file once the master has an "
                 "epoch's progress");
  std::string checkpoint_dir;
  app.add_option("--checkpoint-dir", checkpoint_dir,
                 "the master's --checkpoint-dir, shared: checkpoints are written and read there");
  app.add_option("--freeze-after", freeze_after,
                 "SIGSTOP itself after training this many genomes, before reporting the last");
  deepevolve::ClientSecurity security;
  deepevolve::AddClientSecurityFlags(&app, &security, /*worker=*/true);
  CLI11_PARSE(app, argc, argv);
  auto credentials = deepevolve::MakeChannelCredentials(security);
  if (!credentials.ok()) {
    spdlog::error("{}", std::string(credentials.status().message()));
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);

  int trained = 0;
  auto train = [&](const deepevolve::v1::Assignment& a,
                   const deepevolve::worker::ProgressFn& progress, std::string* model,
                   const deepevolve::genome::Checkpoints* checkpoints)
      -> absl::StatusOr<deepevolve::genome::TrialResult> {
    deepevolve::genome::TrialResult r;
    if (!trace_path.empty()) {
      std::ofstream(trace_path, std::ios::app)
          << "start " << a.genome().hash() << " " << worker_id << "\n";
    }
    const int epochs = std::max(1, a.task().epochs());
    while (hang) std::this_thread::sleep_for(std::chrono::hours(1));
    // The accuracy a genome reaches; per epoch, FakeAccuracy's curve below it.
    double accuracy = FakeAccuracy(a.genome().hash());
    if (!gene_matters.empty()) {
      double v = 0;
      for (int i = 0; i < a.gene_names_size() && i < a.genome().values_size(); ++i) {
        if (a.gene_names(i) != gene_matters) continue;
        const deepevolve::v1::GeneValue& g = a.genome().values(i);
        v = g.has_int_value() ? static_cast<double>(g.int_value()) : g.float_value();
      }
      accuracy = 0.5 + 0.4 * v / (v + 64) + 0.1 * (FakeAccuracy(a.genome().hash()) - 0.5);
    }
    const double below = FakeAccuracy(a.genome().hash());
    auto at_epoch = [&](int e) {
      return accuracy + FakeAccuracy(a.genome().hash(), e, epochs) - below;
    };
    // Its checkpoints are honest, if small: "fake HASH EPOCH", the whole state of a
    // training that is a function of the epoch. A round of population-based training
    // goes on from the checkpoint of the round before it (resume_genome).
    int run = 0;
    const std::string& resume_of =
        a.has_resume_genome() ? a.resume_genome().hash() : a.genome().hash();
    const int last = a.stop_epoch() > 0 ? std::min(a.stop_epoch(), epochs) : epochs;
    std::string resume_error;
    if (checkpoints != nullptr && !checkpoints->resume.empty()) {
      const std::vector<std::string> words = absl::StrSplit(checkpoints->resume, ' ');
      int epoch = 0;
      if (words.size() == 3 && words[0] == "fake" && words[1] == resume_of &&
          absl::SimpleAtoi(words[2], &epoch) && epoch >= 1 && epoch <= epochs) {
        run = epoch;
      } else {
        resume_error = "the checkpoint cannot be read: not a checkpoint of this genome";
      }
    }
    const int resumed_from = run;
    // A size of its own, independent of the accuracy: 10 000 to 1 000 000.
    const deepevolve::genome::Metrics metrics = {
        {"params", 1e4 + std::round(99e4 * FakeAccuracy(a.genome().hash().substr(16)))}};
    for (int e = resumed_from + 1; e <= last; ++e) {
      std::this_thread::sleep_for(std::chrono::milliseconds(epoch_ms));
      run = e;
      deepevolve::genome::EpochProgress p{
          e, epochs,  1.0 / e,      at_epoch(e),  e * epoch_ms / 1e3,
          0, metrics, resumed_from, resume_error, {}};
      if (checkpoints != nullptr &&
          ((checkpoints->every_epochs > 0 && e % checkpoints->every_epochs == 0) ||
           e == checkpoints->stop_epoch)) {
        p.checkpoint = absl::StrCat("fake ", a.genome().hash(), " ", e);
      }
      const auto next = progress(p);
      if (next == deepevolve::worker::AfterEpoch::kCancel) return absl::CancelledError("stopped");
      // The master has the epoch (and its checkpoint) now.
      if (!epoch_trace_path.empty()) {
        std::ofstream(epoch_trace_path, std::ios::app)
            << "epoch " << a.genome().hash() << " " << e << " " << worker_id << "\n";
      }
      if (next == deepevolve::worker::AfterEpoch::kStop) break;
    }
    if (!fail_prefix.empty() && absl::StartsWith(a.genome().hash(), fail_prefix)) {
      r.ok = false;
      r.error = "loss became NaN at epoch 1, batch 1";
    } else {
      r.accuracy = at_epoch(run);
      r.test_accuracy = r.accuracy - 0.01;
      if (model != nullptr) *model = absl::StrCat("fake model of ", a.genome().hash());
    }
    r.epochs_run = run;
    r.train_seconds = run * epoch_ms / 1e3;
    r.metrics = metrics;
    if (freeze_after > 0 && ++trained == freeze_after) raise(SIGSTOP);
    return r;
  };
  auto client = deepevolve::worker::MakeGrpcMasterClient(master, *credentials);
  deepevolve::worker::WorkerOptions options;
  options.worker_id = worker_id;
  options.incarnation = getpid();
  options.max_trials = max_trials;
  options.checkpoint_dir = checkpoint_dir;
  options.acquire_wait = absl::Seconds(2);
  options.max_backoff = absl::Milliseconds(500);
  deepevolve::worker::WorkerLoop loop(client.get(), train, options);
  std::thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    loop.Drain();
  }).detach();
  absl::Status s = loop.Run();
  if (!s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  return 0;
}
