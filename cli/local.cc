#include "cli/local.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cli/csv_record.h"
#include "cli/remote.h"
#include "cli/results_files.h"
#include "common/cores.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "genome/gene_json.h"
#include "genome/metrics.h"
#include "genome/pareto.h"
#include "genome/space.h"
#include "genome/trial_rank.h"
#include "google/protobuf/util/json_util.h"
#include "master/ga/sim.h"
#include "master/ga/spec.h"
#include "nlohmann/json.hpp"

namespace deepevolve::cli {
namespace {

namespace fs = std::filesystem;

// sockaddr_un's sun_path holds 108 bytes with its terminating zero.
constexpr size_t kMaxUnixSocketPath = 100;

// `top` is the master's leaderboard: the one ranking (genome/trial_rank.h, or
// genome/pareto.h for a search of several objectives).
void PrintTop(const std::vector<v1::Trial>& trials, const std::vector<v1::Trial>& top,
              const v1::SearchSpec& spec, std::ostream& out) {
  const v1::TaskSpec& task = spec.task();
  std::vector<const v1::Trial*> ranked;
  for (const v1::Trial& t : top) ranked.push_back(&t);
  // The metrics the search ranks or bounds by, beside the accuracies.
  std::vector<std::string> metrics;
  for (const v1::Objective& o : spec.objectives()) metrics.push_back(o.metric());
  for (const v1::Constraint& c : spec.constraints()) metrics.push_back(c.metric());
  metrics.erase(
      std::remove_if(metrics.begin(), metrics.end(),
                     [](const std::string& m) { return m == "accuracy" || m == "test_accuracy"; }),
      metrics.end());
  std::sort(metrics.begin(), metrics.end());
  metrics.erase(std::unique(metrics.begin(), metrics.end()), metrics.end());
  const int64_t failed = std::count_if(trials.begin(), trials.end(), [](const v1::Trial& t) {
    return t.state() == v1::TRIAL_FAILED || !t.error().empty();
  });
  const int64_t pruned = std::count_if(trials.begin(), trials.end(),
                                       [](const v1::Trial& t) { return t.state() == v1::PRUNED; });
  int64_t trained = 0, saved = 0;
  for (const v1::Trial& t : trials) {
    trained += genome::EpochsTrained(t);
    saved += genome::EpochsSaved(t, task.epochs());
  }
  std::string fitness;
  if (ga::IsMultiObjective(spec)) {
    std::vector<std::string> goals;
    for (const v1::Objective& o : spec.objectives()) {
      goals.push_back(absl::StrCat(o.metric(), o.goal() == "minimize" ? " (min)" : " (max)"));
    }
    fitness = absl::StrCat("Pareto front of ", absl::StrJoin(goals, ", "),
                           spec.constraints_size() > 0 ? ", constraints first" : "", "; ");
  }
  out << absl::StrFormat(
      "\nTop 5 of %d genomes (%d failed%s); %sfitness = %s accuracy\n", trials.size(), failed,
      pruned > 0
          ? absl::StrFormat(", %d pruned: %d epochs trained, %d saved", pruned, trained, saved)
          : "",
      fitness,
      !task.trainer().empty()            ? absl::StrCat("trainer ", task.trainer(), "'s")
      : task.validation() == v1::HOLDOUT ? "validation"
                                         : "test-set");
  const size_t shown = std::min<size_t>(5, ranked.size());
  size_t width = 6;
  for (size_t i = 0; i < shown; ++i) width = std::max(width, ranked[i]->description().size());
  // With several objectives, each row's front (1: no genome dominates it).
  std::vector<int> fronts;
  if (ga::IsMultiObjective(spec)) fronts = genome::FrontNumbers(genome::Objectives(spec), ranked);
  std::string metric_head = fronts.empty() ? "" : absl::StrFormat(" %5s", "front");
  for (const std::string& m : metrics) absl::StrAppendFormat(&metric_head, " %12s", m);
  out << absl::StrFormat("%-4s %-*s %8s %8s%s %5s %9s %4s  %s\n", "rank", width, "genome",
                         "accuracy", "test", metric_head, "id", "parents", "gen", "hash");
  for (size_t i = 0; i < shown; ++i) {
    const v1::Trial& t = *ranked[i];
    const v1::Genome& g = t.genome();
    std::string metric_cells =
        fronts.empty() ? ""
                       : absl::StrFormat(" %5s", fronts[i] > 0 ? absl::StrCat(fronts[i]) : "-");
    for (const std::string& m : metrics) {
      const std::optional<double> v = genome::MetricOf(t, m);
      absl::StrAppendFormat(&metric_cells, " %12s",
                            v.has_value() ? absl::StrFormat("%.6g", *v) : std::string("-"));
    }
    const std::string note = TrialNote(t);
    out << absl::StrFormat("%-4d %-*s %7.2f%% %7.2f%%%s %5d %4d %4d %4d  %s%s\n", i + 1, width,
                           t.description(), 100 * t.accuracy(), 100 * t.test_accuracy(),
                           metric_cells, g.id(), g.parents_size() > 0 ? g.parents(0) : 0,
                           g.parents_size() > 1 ? g.parents(1) : 0, g.generation(), g.hash(),
                           note.empty() ? "" : absl::StrCat(" ", note));
    if (!t.schedule().empty()) out << "     schedule " << t.schedule() << "\n";
  }
}

// Has the worker program load the dataset once, so that a missing or corrupt file is one
// clear error here rather than every genome failing on the workers.
absl::Status CheckDataset(const LocalOptions& options, const std::string& dataset) {
  ASSIGN_OR_RETURN(std::string worker_program, FindProgram("deepevolve-worker"));
  std::vector<std::string> argv = {worker_program, "--check-dataset", dataset};
  for (const std::string& d : options.data_dirs) {
    argv.push_back("--data-dir");
    argv.push_back(fs::absolute(d).string());
  }
  const std::string log = (fs::path(options.out_dir) / "check-dataset.log").string();
  std::error_code ignored;
  fs::remove(log, ignored);
  ASSIGN_OR_RETURN(Subprocess check, Subprocess::Start(argv, log));
  const std::optional<int> status = check.Wait(absl::Minutes(10));
  if (!status) return absl::DeadlineExceededError("loading the dataset took over 10 minutes");
  if (*status != 0) {
    std::string why = check.LogTail();
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return absl::NotFoundError(why);
  }
  return absl::OkStatus();
}

// The master and workers of one local search, stopped when this goes out of scope.
class LocalCluster {
 public:
  ~LocalCluster() { Stop(); }

  absl::Status Start(const LocalOptions& options, int trainers, int threads) {
    ASSIGN_OR_RETURN(std::string master_program, FindProgram("deepevolve-master"));
    ASSIGN_OR_RETURN(std::string worker_program, FindProgram("deepevolve-worker"));
    const fs::path dir = options.out_dir;
    const std::string port_file = (dir / ".master-port").string();
    std::error_code ignored;
    fs::remove(port_file, ignored);
    // The master is plaintext and these processes are this user's: it listens on a
    // Unix socket in a directory only this user may enter, so that no other local user
    // can submit, register as a worker or report into the ledger. A TCP port on
    // 127.0.0.1 (reachable by every local user) only where the socket's path is too
    // long for the system.
    const fs::path socket_dir = fs::absolute(dir / ".master");
    fs::create_directories(socket_dir, ignored);
    fs::permissions(socket_dir, fs::perms::owner_all, fs::perm_options::replace, ignored);
    const std::string socket = (socket_dir / "grpc.sock").string();
    fs::remove(socket, ignored);
    const bool unix_socket = !ignored && socket.size() < kMaxUnixSocketPath;
    const std::string listen = unix_socket ? absl::StrCat("unix:", socket) : "127.0.0.1:0";
    // The master and its workers share one machine: checkpoints are written and read in
    // the directory the master keeps them in, never streamed.
    const std::string checkpoints = fs::absolute(dir / "ledger.db.checkpoints").string();
    ASSIGN_OR_RETURN(
        Subprocess master,
        Subprocess::Start({master_program, "--db", (dir / "ledger.db").string(), "--listen", listen,
                           "--port-file", port_file, "--insecure", "--checkpoint-dir", checkpoints},
                          (dir / "master.log").string()));
    master_.emplace(std::move(master));
    ASSIGN_OR_RETURN(std::string port, WaitForLine(port_file, *master_, absl::Minutes(1)));
    address_ = unix_socket ? listen : absl::StrCat("127.0.0.1:", port);
    for (int i = 0; i < trainers; ++i) {
      std::vector<std::string> argv = {worker_program,
                                       "--master",
                                       address_,
                                       "--id",
                                       absl::StrCat("local-", i),
                                       "--threads",
                                       absl::StrCat(threads),
                                       "--device",
                                       options.device,
                                       "--insecure",
                                       "--slots-dir",
                                       (dir / ".slots").string(),
                                       "--checkpoint-dir",
                                       checkpoints};
      for (const std::string& d : options.data_dirs) {
        argv.push_back("--data-dir");
        argv.push_back(fs::absolute(d).string());
      }
      for (const std::string& p : options.programs) {
        argv.push_back("--trainer");
        argv.push_back(p);
      }
      ASSIGN_OR_RETURN(
          Subprocess worker,
          Subprocess::Start(argv, (dir / absl::StrCat("worker-", i, ".log")).string()));
      workers_.push_back(std::move(worker));
    }
    return absl::OkStatus();
  }

  const std::string& address() const { return address_; }

  // Why the search cannot go on (the master or every worker gone), or "" while it can.
  std::string Trouble() {
    if (master_) {
      if (std::optional<int> s = master_->Poll()) {
        return absl::StrCat("the master ", Subprocess::DescribeExit(*s), "; its log (",
                            master_->log_path(), ") ends:\n", master_->LogTail());
      }
    }
    std::string last;
    for (Subprocess& w : workers_) {
      std::optional<int> s = w.Poll();
      if (!s) return "";
      last = absl::StrCat("every worker stopped; the last ", Subprocess::DescribeExit(*s),
                          " and its log (", w.log_path(), ") ends:\n", w.LogTail());
    }
    return last;
  }

  // Workers first (told to stop, then the master's shutdown wakes their long polls).
  void Stop() {
    for (Subprocess& w : workers_) {
      if (!w.Poll()) kill(w.pid(), SIGTERM);
    }
    if (master_) master_->Stop();
    for (Subprocess& w : workers_) w.Stop();
    workers_.clear();
    master_.reset();
  }

 private:
  std::optional<Subprocess> master_;
  std::vector<Subprocess> workers_;
  std::string address_;
};

}  // namespace

// The name of each --trainer NAME[@VERSION]=COMMAND, checked; and the spec's trainer:
// the one program's when the spec names none, or one of the programs.
absl::Status ResolvePrograms(const std::vector<std::string>& programs, v1::SearchSpec* spec) {
  std::vector<std::string> names;
  for (const std::string& p : programs) {
    ASSIGN_OR_RETURN(genome::TrainerProgram program, genome::ParseTrainerFlag(p));
    names.push_back(program.name);
  }
  const std::string& wanted = spec->task().trainer();
  if (wanted.empty()) {
    if (names.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--trainer is given ", names.size(),
                       " times: name the search's in its spec (task.trainer)"));
    }
    if (names.size() == 1) spec->mutable_task()->set_trainer(names[0]);
    return absl::OkStatus();
  }
  if (std::find(names.begin(), names.end(), wanted) == names.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the spec's task.trainer is ", wanted, ", and no --trainer ", wanted,
        "=COMMAND says how to run it",
        names.empty() ? "" : absl::StrCat(" (given: ", absl::StrJoin(names, ", "), ")")));
  }
  return absl::OkStatus();
}

int RunLocal(const LocalOptions& options, std::ostream& out, std::ostream& err) {
  v1::SearchSpec submitted = options.spec;
  if (absl::Status s = ResolvePrograms(options.programs, &submitted); !s.ok()) {
    err << "deepevolve local: " << s.message() << "\n";
    return 1;
  }
  auto resolved = ga::ResolveSearchSpec(submitted);
  if (!resolved.ok()) {
    err << "deepevolve local: bad search spec: " << resolved.status().message() << "\n";
    return 1;
  }
  v1::SearchSpec spec = *std::move(resolved);
  if (spec.seed() == 0) spec.set_seed(std::random_device{}() | 1);
  auto space = genome::SearchSpace::FromProto(spec.space(), ga::GeneNamesFor(spec.task()));
  if (!space.ok()) {
    err << "deepevolve local: bad search spec: " << space.status().message() << "\n";
    return 1;
  }
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) {
    err << "deepevolve local: cannot create output directory '" << options.out_dir
        << "': " << ec.message() << "\n";
    return 1;
  }
  {
    // The resolved spec, seed included: what `deepevolve retrain` reads back.
    std::string json;
    google::protobuf::util::JsonPrintOptions print;
    print.add_whitespace = true;
    print.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(spec, &json, print);
    std::ofstream(fs::path(options.out_dir) / "search.json") << json;
  }
  // A trainer program's dataset is its own business (it says so on its first trial).
  if (absl::Status s = spec.task().trainer().empty() ? CheckDataset(options, spec.task().dataset())
                                                     : absl::OkStatus();
      !s.ok()) {
    err << "deepevolve local: " << s.message() << "\n";
    return 1;
  }

  const int cores = AvailableCores();
  const int trainers = options.trainers > 0 ? options.trainers : std::max(1, cores / 2);
  const int threads =
      options.threads_per_trainer > 0 ? options.threads_per_trainer : std::max(1, cores / trainers);
  LocalCluster cluster;
  if (absl::Status s = cluster.Start(options, trainers, threads); !s.ok()) {
    err << "deepevolve local: " << s.message() << "\n";
    return 1;
  }
  const auto& task = spec.task();
  err << absl::StrFormat(
      "deepevolve local: %s on %s (%s, %d epochs%s%s), %s, seed %d; master on %s with "
      "%d worker%s x %d thread%s (%s); results and logs in %s\n",
      spec.preset().empty() ? "custom space" : spec.preset(),
      task.dataset().empty() ? "-" : task.dataset(),
      task.trainer().empty() ? v1::NetKind_Name(task.net())
                             : absl::StrCat("trainer ", task.trainer()),
      task.epochs(), task.trainer().empty() ? absl::StrCat(", batch ", task.batch_size()) : "",
      task.train_limit() > 0 ? absl::StrCat(", first ", task.train_limit(), " examples") : "",
      spec.has_generational()
          ? absl::StrFormat("generational %dx%d%s", spec.generational().population(),
                            spec.generational().generations(),
                            spec.deepevolve_compat() ? " (compat)" : "")
          : ga::StrategyName(spec),
      spec.seed(), cluster.address(), trainers, trainers == 1 ? "" : "s", threads,
      threads == 1 ? "" : "s", options.device, options.out_dir);

  // Plaintext on 127.0.0.1 only: the master listens on no other address.
  RemoteOptions remote;
  remote.master = cluster.address();
  remote.security.insecure = true;
  remote.security.token = options.token;
  remote.live = options.live && isatty(STDERR_FILENO);
  remote.show_waiting = false;
  auto stub = ConnectSearchService(remote, err);
  if (stub == nullptr) return 1;
  int64_t search_id = 0;
  {
    grpc::ClientContext context;
    PrepareCall(context, remote, absl::Seconds(30));
    v1::SubmitRequest request;
    *request.mutable_spec() = spec;
    v1::SubmitResponse response;
    grpc::Status s = stub->Submit(&context, request, &response);
    if (!s.ok()) {
      err << "deepevolve local: the master refused the search: " << s.error_message() << "\n";
      return 1;
    }
    search_id = response.search_id();
  }

  // Watch the processes while the search runs: if they all die, cancel so watching ends.
  std::string trouble;
  absl::Notification search_over;
  std::thread monitor([&] {
    while (!search_over.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
      trouble = cluster.Trouble();
      if (trouble.empty()) continue;
      grpc::ClientContext context;
      PrepareCall(context, remote, absl::Seconds(5));
      v1::CancelRequest request;
      request.set_search_id(search_id);
      v1::SearchSummary ignored;
      (void)stub->Cancel(&context, request, &ignored);
      return;
    }
  });
  const int watched = RunWatch(remote, search_id, err, err);
  search_over.Notify();
  monitor.join();
  if (!trouble.empty()) {
    err << "deepevolve local: search stopped: " << trouble << "\n";
    return 1;
  }

  std::vector<v1::Trial> trials;
  if (grpc::Status s = ReadAllTrials(*stub, remote, search_id, &trials); !s.ok()) {
    err << "deepevolve local: cannot read the results back: " << s.error_message() << "\n";
    return 1;
  }
  std::vector<v1::Trial> ranked;
  {
    grpc::ClientContext context;
    PrepareCall(context, remote, absl::Seconds(60));
    v1::LeaderboardRequest request;
    request.set_search_id(search_id);
    request.set_limit(10000);
    v1::LeaderboardResponse response;
    if (grpc::Status s = stub->Leaderboard(&context, request, &response); !s.ok()) {
      err << "deepevolve local: cannot read the leaderboard: " << s.error_message() << "\n";
      return 1;
    }
    ranked.assign(response.trials().begin(), response.trials().end());
  }
  WriteResults(*space, trials, ranked, options.out_dir);
  // A trainer program's model file is in its own format.
  const fs::path model_path =
      fs::path(options.out_dir) / (spec.task().trainer().empty() ? "best_model.pt" : "best_model");
  std::string model_note;
  {
    grpc::ClientContext context;
    PrepareCall(context, remote, absl::Seconds(60));
    v1::GetModelRequest request;
    request.set_search_id(search_id);
    v1::Model model;
    // An earlier run's model must not pass for this one's.
    std::error_code ec;
    fs::remove(model_path, ec);
    grpc::Status got = stub->GetModel(&context, request, &model);
    if (got.ok()) {
      std::ofstream(model_path, std::ios::binary) << model.data();
      model_note = absl::StrCat("best model: ", model_path.string());
    } else {
      model_note = absl::StrCat("no best model (", got.error_message(), ")");
    }
  }
  cluster.Stop();
  if (watched != 0) {
    err << "deepevolve local: the search did not succeed (" << trials.size()
        << " genomes recorded in " << options.out_dir << ")\n";
    return 1;
  }
  PrintTop(trials, {ranked.begin(), ranked.begin() + std::min<size_t>(5, ranked.size())}, spec,
           out);
  out << "\nAll genomes: " << (fs::path(options.out_dir) / "genomes.csv").string() << " and "
      << "genomes.json; " << model_note
      << "; ledger: " << (fs::path(options.out_dir) / "ledger.db").string() << "\n";
  return 0;
}

}  // namespace deepevolve::cli
