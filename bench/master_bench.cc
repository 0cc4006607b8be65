// master_bench: how many genomes one deepevolve-master dispatches and records per
// second. Starts a real master (its own process, SQLite durable store, every result
// committed before it is acknowledged) on 127.0.0.1, submits a steady-state search
// over an 800 000-genome space, and runs N no-op workers in threads, each with its own
// gRPC channel: Acquire, then Report at once. Prints one JSON line: cycles per second
// and the p50/p99 latency of one cycle (Acquire + Report) as a worker sees it.
//
//   master_bench --workers 4 --trials 2000 [--durability full|process]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/subprocess.h"
#include "deepevolve/v1/service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "worker/daemon/worker_loop.h"

namespace {

namespace fs = std::filesystem;
using deepevolve::Subprocess;
namespace v1 = deepevolve::v1;

v1::SearchSpec BenchSpec(int trials) {
  v1::SearchSpec spec;
  spec.set_name("master_bench");
  spec.set_seed(1);
  v1::TaskSpec* task = spec.mutable_task();
  task->set_dataset("fashion_mnist");
  task->set_net(v1::MLP);
  task->set_epochs(1);
  auto* space = spec.mutable_space();
  auto* neurons = space->add_genes();
  neurons->set_name("nb_neurons");
  for (int v = 1; v <= 256; ++v) neurons->add_values()->set_int_value(v);
  auto* layers = space->add_genes();
  layers->set_name("nb_layers");
  for (int v = 1; v <= 64; ++v) layers->add_values()->set_int_value(v);
  auto* activation = space->add_genes();
  activation->set_name("activation");
  for (const char* a : {"relu", "elu", "tanh", "sigmoid", "hard_sigmoid", "softplus", "linear"}) {
    activation->add_values()->set_string_value(a);
  }
  auto* optimizer = space->add_genes();
  optimizer->set_name("optimizer");
  for (const char* o : {"rmsprop", "adam", "sgd", "adagrad", "adadelta", "adamax", "nadam"}) {
    optimizer->add_values()->set_string_value(o);
  }
  spec.mutable_steady_state()->set_population(32);
  spec.mutable_steady_state()->set_trials(trials);
  return spec;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"master_bench: genomes dispatched and reported per second through one master"};
  int workers = 4, trials = 2000;
  std::string durability = "full";
  app.add_option("--workers", workers, "no-op workers (threads, one channel each)")
      ->capture_default_str();
  app.add_option("--trials", trials, "genomes to dispatch and report")->capture_default_str();
  app.add_option("--durability", durability, "the master's --durability")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto program = deepevolve::FindProgram("deepevolve-master");
  if (!program.ok()) {
    std::cerr << program.status().message() << "\n";
    return 1;
  }
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("master-bench-", getpid());
  fs::create_directories(dir);
  const std::string port_file = (dir / "port").string();
  auto master = Subprocess::Start({*program, "--db", (dir / "master.db").string(), "--listen",
                                   "127.0.0.1:0", "--port-file", port_file, "--insecure", "--lease-seconds",
                                   "60", "--durability", durability},
                                  (dir / "master.log").string());
  if (!master.ok()) {
    std::cerr << master.status().message() << "\n";
    return 1;
  }
  auto port = deepevolve::WaitForLine(port_file, *master, absl::Minutes(1));
  if (!port.ok()) {
    std::cerr << port.status().message() << "\n";
    return 1;
  }
  const std::string address = absl::StrCat("127.0.0.1:", *port);

  auto search = v1::SearchService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext context;
    v1::SubmitRequest request;
    *request.mutable_spec() = BenchSpec(trials);
    v1::SubmitResponse response;
    if (grpc::Status s = search->Submit(&context, request, &response); !s.ok()) {
      std::cerr << "submit: " << s.error_message() << "\n";
      return 1;
    }
  }

  std::atomic<int> reported{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::atomic<bool> failed{false};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto client = deepevolve::worker::MakeGrpcMasterClient(address, grpc::InsecureChannelCredentials());
      const std::string id = absl::StrCat("bench-", w);
      v1::RegisterRequest reg;
      reg.set_worker_id(id);
      reg.set_incarnation(w + 1);
      if (!client->Register(reg).ok()) {
        failed = true;
        return;
      }
      std::vector<double> mine;
      while (reported.load() < trials && !failed) {
        const auto t0 = std::chrono::steady_clock::now();
        v1::AcquireRequest acquire;
        acquire.set_worker_id(id);
        acquire.set_incarnation(w + 1);
        acquire.set_wait_ms(200);
        auto got = client->Acquire(acquire);
        if (!got.ok()) {
          std::cerr << "acquire: " << got.status() << "\n";
          failed = true;
          break;
        }
        if (!got->has_assignment()) continue;  // the search is ending
        v1::ReportRequest report;
        report.set_lease_id(got->assignment().lease_id());
        report.set_worker_id(id);
        report.set_ok(true);
        const std::string& hash = got->assignment().genome().hash();
        report.set_accuracy(static_cast<double>(std::stoul(hash.substr(0, 6), nullptr, 16)) /
                            0xffffff);
        report.set_test_accuracy(report.accuracy());
        report.set_epochs_run(1);
        auto done = client->Report(report);
        if (!done.ok()) {
          std::cerr << "report: " << done.status() << "\n";
          failed = true;
          break;
        }
        mine.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
        ++reported;
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int exit_status = master->Stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (failed) {
    std::cerr << "the benchmark failed; master " << Subprocess::DescribeExit(exit_status) << "\n";
    return 1;
  }
  std::cout << absl::StrFormat(
      "{\"tool\": \"deepevolve-master\", \"workers\": %d, \"trials\": %d, \"durability\": "
      "\"%s\", \"seconds\": %.3f, \"per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
      workers, reported.load(), durability, seconds, reported.load() / seconds,
      Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.99));
  return 0;
}
