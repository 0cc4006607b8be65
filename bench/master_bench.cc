// master_bench: how many genomes one deepevolve-master dispatches and records per
// second. Starts a real master (its own process, SQLite durable store, every result
// committed before it is acknowledged) on 127.0.0.1, submits a steady-state search
// over an 800 000-genome space, and runs N no-op workers in threads, each with its own
// gRPC channel: Report each genome at once, asking for the next one in the same call,
// as deepevolve-worker does (Acquire only when none came back; --separate-acquire
// always). Prints one JSON line: cycles per second and the p50/p99 latency of one cycle
// (the calls one genome needs) as a worker sees it.
//
// With --epochs E each genome is preceded by E per-epoch heartbeats, and with
// --model-bytes N a report that beats the best accuracy the worker was told carries a
// model of N bytes, as deepevolve-worker uploads them: the rate a real worker gets.
//
//   master_bench --workers 4 --trials 2000 [--durability full|process]
//                [--epochs 10 --model-bytes 2000000]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "bench/process_stats.h"
#include "bench/wide_space.h"
#include "common/subprocess.h"
#include "deepevolve/v1/service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "worker/daemon/grpc_master_client.h"

namespace {

using deepevolve::bench::Percentile;

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
  deepevolve::bench::AddWideMlpSpace(spec.mutable_space());
  spec.mutable_steady_state()->set_population(32);
  spec.mutable_steady_state()->set_trials(trials);
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"master_bench: genomes dispatched and reported per second through one master"};
  int workers = 4, trials = 2000, window = 1000;
  std::string durability = "full";
  app.add_option("--workers", workers, "no-op workers (threads, one channel each)")
      ->capture_default_str();
  app.add_option("--trials", trials, "genomes to dispatch and report")->capture_default_str();
  app.add_option("--window", window,
                 "cycles in each history window (p99 and syncs at 1 000, 5 000, 25 000 "
                 "results and at the end)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--durability", durability, "the master's --durability")->capture_default_str();
  int epochs = 0, model_bytes = 0;
  app.add_option("--epochs", epochs, "per-epoch heartbeats before each report")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_option("--model-bytes", model_bytes,
                 "model size sent with a report that beats the best accuracy known")
      ->capture_default_str()
      ->check(CLI::Range(0, 200'000'000));
  bool keep_log = false, separate_acquire = false, keep_dir = false;
  app.add_flag("--separate-acquire", separate_acquire,
               "Acquire each genome in its own call (workers hand in a result and get the "
               "next genome in one Report call by default)");
  app.add_flag("--master-log", keep_log, "print the end of the master's log (commits, syncs)");
  app.add_flag("--keep-dir", keep_dir, "keep the master's database and log afterwards");
  CLI11_PARSE(app, argc, argv);
  // As the master does: see master/main.cc.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  auto program = deepevolve::FindProgram("deepevolve-master");
  if (!program.ok()) {
    std::cerr << program.status().message() << "\n";
    return 1;
  }
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("master-bench-", getpid());
  fs::create_directories(dir);
  const std::string port_file = (dir / "port").string();
  const std::string http_port_file = (dir / "http-port").string();
  auto master = Subprocess::Start(
      {*program, "--db", (dir / "master.db").string(), "--listen", "127.0.0.1:0", "--port-file",
       port_file, "--insecure", "--lease-seconds", "60", "--durability", durability,
       "--http-listen", "127.0.0.1:0", "--http-port-file", http_port_file},
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
  auto http_port = deepevolve::WaitForLine(http_port_file, *master, absl::Minutes(1));
  if (!http_port.ok()) {
    std::cerr << http_port.status().message() << "\n";
    return 1;
  }

  auto search =
      v1::SearchService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
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
  // Latency by the number of results recorded before the cycle ended (its ledger size).
  std::vector<std::pair<int, double>> by_history;
  std::atomic<bool> failed{false};
  std::atomic<int64_t> models_sent{0};
  // The master's own WAL-sync histogram, read every 100 ms: the mean sync time around
  // each window, to tell disk time from the rest of a cycle.
  struct SyncSample {
    int reported;
    double sum_s;
    int64_t count;
    int64_t fast;  // syncs of at most 2.5 ms
  };
  std::vector<SyncSample> sync_samples;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    httplib::Client http("127.0.0.1", std::stoi(*http_port));
    while (!done) {
      if (auto res = http.Get("/metrics"); res && res->status == 200) {
        SyncSample sample{reported.load(), 0, 0, 0};
        for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
          if (absl::ConsumePrefix(&line, "deepevolve_store_sync_seconds_sum{} ")) {
            (void)absl::SimpleAtod(line, &sample.sum_s);
          } else if (absl::ConsumePrefix(&line, "deepevolve_store_sync_seconds_count{} ")) {
            (void)absl::SimpleAtoi(line, &sample.count);
          } else if (absl::ConsumePrefix(&line,
                                         "deepevolve_store_sync_seconds_bucket{le=\"0.0025\"} ")) {
            (void)absl::SimpleAtoi(line, &sample.fast);
          }
        }
        sync_samples.push_back(sample);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto client =
          deepevolve::worker::MakeGrpcMasterClient(address, grpc::InsecureChannelCredentials());
      const std::string id = absl::StrCat("bench-", w);
      v1::RegisterRequest reg;
      reg.set_worker_id(id);
      reg.set_incarnation(w + 1);
      if (!client->Register(reg).ok()) {
        failed = true;
        return;
      }
      std::vector<double> mine;
      std::vector<std::pair<int, double>> mine_by_history;
      std::optional<v1::Assignment> next;  // handed over with the last report
      const std::string model(static_cast<size_t>(model_bytes), 'm');
      while (reported.load() < trials && !failed) {
        const auto t0 = std::chrono::steady_clock::now();
        v1::Assignment assignment;
        if (next.has_value()) {
          assignment = *std::move(next);
          next.reset();
        } else {
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
          assignment = got->assignment();
        }
        double best = assignment.has_best_accuracy() ? assignment.best_accuracy() : -1;
        for (int epoch = 1; epoch <= epochs; ++epoch) {
          v1::HeartbeatRequest beat;
          beat.set_lease_id(assignment.lease_id());
          beat.set_worker_id(id);
          beat.set_incarnation(w + 1);
          beat.set_epoch(epoch);
          beat.set_epochs(epochs);
          beat.set_val_accuracy(0.5 + 0.4 * epoch / epochs);
          beat.set_loss(1.0 / epoch);
          beat.set_elapsed_seconds(epoch);
          auto answer = client->Heartbeat(beat);
          if (!answer.ok()) {
            std::cerr << "heartbeat: " << answer.status() << "\n";
            failed = true;
            break;
          }
          if (answer->has_best_accuracy()) best = answer->best_accuracy();
        }
        v1::ReportRequest report;
        report.set_lease_id(assignment.lease_id());
        report.set_worker_id(id);
        report.set_incarnation(w + 1);
        report.set_acquire_next(!separate_acquire);
        report.set_ok(true);
        const std::string& hash = assignment.genome().hash();
        report.set_accuracy(static_cast<double>(std::stoul(hash.substr(0, 6), nullptr, 16)) /
                            0xffffff);
        report.set_test_accuracy(report.accuracy());
        report.set_epochs_run(std::max(epochs, 1));
        if (model_bytes > 0 && report.accuracy() > best) {
          report.set_model(model);
          ++models_sent;
        }
        auto done = client->Report(report);
        if (!done.ok()) {
          std::cerr << "report: " << done.status() << "\n";
          failed = true;
          break;
        }
        if (done->has_next()) next = done->next();
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        mine.push_back(ms);
        mine_by_history.emplace_back(reported++, ms);
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
      by_history.insert(by_history.end(), mine_by_history.begin(), mine_by_history.end());
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  sampler.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::error_code size_ec;
  const auto wal_bytes = fs::file_size(dir / "master.db-wal", size_ec);
  const auto db_bytes = fs::file_size(dir / "master.db", size_ec);
  const int exit_status = master->Stop();
  if (keep_log) std::cerr << master->LogTail(400);
  std::error_code ec;
  if (keep_dir) {
    std::cerr << "kept " << dir.string() << "\n";
  } else {
    fs::remove_all(dir, ec);
  }
  if (failed) {
    std::cerr << "the benchmark failed; master " << Subprocess::DescribeExit(exit_status) << "\n";
    return 1;
  }
  // p99 of the `window` cycles after the first 1 000 results, after 5 000 and 25 000,
  // and of the last `window`: does a cycle cost more once the ledger holds tens of
  // thousands of results?
  auto window_p99 = [&](int from, int to) {
    std::vector<double> v;
    for (const auto& [history, ms] : by_history) {
      if (history >= from && history < to) v.push_back(ms);
    }
    return Percentile(v, 0.99);
  };
  const int total = reported.load();
  const int last = std::max(0, total - window);
  // Mean sync time between the samples around [from, to) results.
  // Mean sync time, and the share of syncs over 2.5 ms, in [from, to) results.
  auto window_sync = [&](int from, int to) -> std::pair<double, double> {
    const SyncSample* a = nullptr;
    const SyncSample* b = nullptr;
    for (const SyncSample& x : sync_samples) {
      if (x.reported <= from) a = &x;
      if (b == nullptr && x.reported >= to) b = &x;
    }
    if (a == nullptr || b == nullptr || b->count <= a->count) return {0.0, 0.0};
    const double n = static_cast<double>(b->count - a->count);
    return {1000 * (b->sum_s - a->sum_s) / n,
            static_cast<double>((b->count - b->fast) - (a->count - a->fast)) / n};
  };
  std::cout << absl::StrFormat(
      "{\"tool\": \"deepevolve-master\", \"workers\": %d, \"trials\": %d, \"durability\": "
      "\"%s\", \"separate_acquire\": %s, \"seconds\": %.3f, \"per_s\": %.1f, \"p50_ms\": %.3f, "
      "\"p99_ms\": %.3f, "
      "\"p99_at_1000_ms\": %.3f, \"p99_at_5000_ms\": %.3f, \"p99_at_25000_ms\": %.3f, "
      "\"p99_at_last_ms\": %.3f, \"last_history\": %d, \"window\": %d, \"sync_ms_at_1000\": %.3f, "
      "\"sync_ms_at_25000\": %.3f, \"sync_ms_at_last\": %.3f, \"slow_syncs_at_1000\": %.4f, "
      "\"slow_syncs_at_25000\": %.4f, \"slow_syncs_at_last\": %.4f, "
      "\"db_mb\": %.1f, \"wal_mb\": %.1f, \"epochs\": %d, \"model_bytes\": %d, "
      "\"models_sent\": %d}\n",
      workers, total, durability, separate_acquire ? "true" : "false", seconds, total / seconds,
      Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.99),
      window_p99(1000, 1000 + window), window_p99(5000, 5000 + window),
      window_p99(25000, 25000 + window), window_p99(last, total), last, window,
      window_sync(1000, 1000 + window).first, window_sync(25000, 25000 + window).first,
      window_sync(last, total).first, window_sync(1000, 1000 + window).second,
      window_sync(25000, 25000 + window).second, window_sync(last, total).second,
      static_cast<double>(db_bytes) / 1e6, static_cast<double>(wal_bytes) / 1e6, epochs,
      model_bytes, models_sent.load());
  return 0;
}
