#include "cli/remote.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/results_files.h"
#include "cli/watch_progress.h"
#include "deepevolve/v1/service.grpc.pb.h"
#include "genome/pareto.h"
#include "google/protobuf/util/json_util.h"
#include "master/ga/spec.h"

namespace deepevolve::cli {
namespace {

// Reports a failed call in words that name the master; returns the exit code.
int Fail(const RemoteOptions& options, const std::string& verb, const grpc::Status& status,
         std::ostream& err) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    err << "deepevolve " << verb << ": cannot reach the master at " << options.master << " ("
        << status.error_message() << ")\n";
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    err << "deepevolve " << verb << ": the master at " << options.master
        << " refused the call (UNAUTHENTICATED): " << status.error_message() << "\n";
  } else {
    err << "deepevolve " << verb << ": " << status.error_message() << "\n";
  }
  return 1;
}

grpc::Status GetSummary(v1::SearchService::Stub& stub, const RemoteOptions& options,
                        int64_t search_id, v1::SearchSummary* summary) {
  grpc::ClientContext context;
  PrepareCall(context, options, absl::Seconds(30));
  v1::GetRequest request;
  request.set_search_id(search_id);
  return stub.Get(&context, request, summary);
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = false;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

const char* StateName(v1::SearchState s) {
  switch (s) {
    case v1::RUNNING:
      return "running";
    case v1::SUCCEEDED:
      return "succeeded";
    case v1::CANCELLED:
      return "cancelled";
    case v1::FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

void PrintSummary(const v1::SearchSummary& s, std::ostream& out) {
  // Population-based training counts rounds of its members, not genomes.
  const v1::PbtParams* pbt = s.spec().has_pbt() ? &s.spec().pbt() : nullptr;
  const int population = pbt != nullptr ? std::max(1, pbt->population()) : 1;
  out << absl::StrFormat(
      "search %d \"%s\": %s, %s on %s, %s\n", s.search_id(), s.name(), StateName(s.state()),
      ga::StrategyName(s.spec()), s.spec().task().dataset(),
      pbt != nullptr
          ? absl::StrFormat("round %d of %d", s.generation(), s.trials_planned() / population)
          : absl::StrFormat("generation %d", s.generation()));
  if (pbt != nullptr) {
    out << absl::StrFormat(
        "  rounds: %d done of %d planned (%d members, %d epochs a round), %d running, %d "
        "failed\n",
        s.trials_done(), s.trials_planned(), population, pbt->ready_epochs(), s.trials_running(),
        s.failed());
  } else {
    out << absl::StrFormat(
        "  genomes: %d done of ~%d planned, %d running, %d ledger hits, %d failed%s\n",
        s.trials_done(), s.trials_planned(), s.trials_running(), s.ledger_hits(), s.failed(),
        s.spec().has_pruner() ? absl::StrFormat(", %d pruned", s.pruned()) : "");
  }
  out << absl::StrFormat("  epochs: %d trained%s\n", s.epochs_trained(),
                         s.spec().has_pruner()
                             ? absl::StrFormat(", %d saved by the %s pruner", s.epochs_saved(),
                                               s.spec().pruner().has_asha() ? "asha" : "median")
                             : "");
  // What lost workers cost, when any was lost: epochs their checkpoints did not keep.
  if (s.preempted() > 0) {
    out << absl::StrFormat(
        "  preempted: %d leases lost with their workers, %d resumed from a checkpoint, "
        "%d epochs lost (%s)\n",
        s.preempted(), s.resumes(), s.epochs_lost(),
        s.spec().checkpoint().disabled()
            ? "checkpoints off: a lost genome trains again from its first epoch"
            : "trained again after the last checkpoint");
  }
  if (ga::IsMultiObjective(s.spec())) {
    std::vector<std::string> parts;
    if (s.spec().objectives_size() == 0) parts.push_back("accuracy (max)");
    for (const v1::Objective& o : s.spec().objectives()) {
      parts.push_back(absl::StrCat(o.metric(), o.goal() == "minimize" ? " (min)" : " (max)"));
    }
    for (const v1::Constraint& c : s.spec().constraints()) {
      parts.push_back(absl::StrCat(c.has_min() ? absl::StrCat(c.min(), " <= ") : "", c.metric(),
                                   c.has_max() ? absl::StrCat(" <= ", c.max()) : ""));
    }
    out << "  ranked by Pareto front: " << absl::StrJoin(parts, ", ")
        << " (best: the first of the front)\n";
    if (s.front_size() > 0) {
      out << absl::StrFormat(
          "  front: %d genomes, hypervolume %.3f of the box between the worst and best values "
          "of the genomes trained (deepevolve top %d for them)\n",
          s.front_size(), s.hypervolume(), s.search_id());
    }
  }
  if (s.has_best()) {
    out << absl::StrFormat("  best: %.2f%% val, %.2f%% test — %s (genome %d, %s)\n",
                           100 * s.best().accuracy(), 100 * s.best().test_accuracy(),
                           s.best().description(), s.best().genome().id(),
                           s.best().genome().hash());
    if (!s.best().schedule().empty()) {
      out << absl::StrFormat("    member %d, schedule %s\n", s.best().member(),
                             s.best().schedule());
    }
  }
  if (!s.spec().task().trainer().empty()) out << "  trainer: " << s.spec().task().trainer() << "\n";
  if (const v1::WarmStart& w = s.spec().warm_start(); w.genomes_size() > 0) {
    out << absl::StrFormat("  warm start: began with %d genome%s%s\n", w.genomes_size(),
                           w.genomes_size() == 1 ? "" : "s",
                           w.search_id() > 0
                               ? absl::StrFormat(", the best of search %d", w.search_id())
                               : " given in its spec");
  }
  if (!s.waiting().empty()) out << "  waiting: " << s.waiting() << "\n";
  if (!s.error().empty()) out << "  error: " << s.error() << "\n";
}

// `fronts`: each row's front number (genome::FrontNumbers), or empty for a search of
// accuracy alone.
}  // namespace

std::string TrialNote(const v1::Trial& t) {
  if (t.state() == v1::CACHED && !t.imported_from().empty()) {
    return absl::StrCat("(imported: ", t.imported_from(), ")");
  }
  if (t.state() == v1::CACHED) return "(ledger)";
  if (t.state() == v1::PRUNED) return absl::StrCat("(pruned at epoch ", t.pruned_at_epoch(), ")");
  if (t.member() > 0) {
    return absl::StrCat("(member ", t.member(), ", epochs ", t.start_epoch() + 1, "-",
                        t.stop_epoch() > 0 ? t.stop_epoch() : t.epochs_run(), ")");
  }
  return "";
}

namespace {

void PrintTrials(const google::protobuf::RepeatedPtrField<v1::Trial>& trials,
                 const std::vector<int>& fronts, std::ostream& out) {
  // Every metric a shown trial has, a column each (params, latency_ms, ...).
  std::set<std::string> metrics;
  for (const v1::Trial& t : trials) {
    for (const auto& [name, value] : t.metrics()) metrics.insert(name);
  }
  std::string head = absl::StrFormat("%-4s %-8s %-8s", "rank", "val", "test");
  if (!fronts.empty()) absl::StrAppendFormat(&head, " %-5s", "front");
  for (const std::string& m : metrics) absl::StrAppendFormat(&head, " %-12s", m);
  out << head << absl::StrFormat(" %-7s %-34s %s\n", "genome", "hash", "genes");
  int rank = 0;
  for (const v1::Trial& t : trials) {
    std::string row =
        absl::StrFormat("%-4d %-8s %-8s", ++rank, absl::StrFormat("%.2f%%", 100 * t.accuracy()),
                        absl::StrFormat("%.2f%%", 100 * t.test_accuracy()));
    if (!fronts.empty()) {
      const int front = fronts[rank - 1];
      absl::StrAppendFormat(&row, " %-5s", front > 0 ? absl::StrCat(front) : "-");
    }
    for (const std::string& m : metrics) {
      auto it = t.metrics().find(m);
      absl::StrAppendFormat(&row, " %-12s",
                            it == t.metrics().end() ? "-" : absl::StrFormat("%.6g", it->second));
    }
    const std::string note = TrialNote(t);
    out << row
        << absl::StrFormat(" %-7d %-34s %s%s\n", t.genome().id(), t.genome().hash(),
                           t.description(), note.empty() ? "" : absl::StrCat("  ", note));
    if (!t.schedule().empty()) out << "     schedule " << t.schedule() << "\n";
  }
}

}  // namespace

std::unique_ptr<v1::SearchService::Stub> ConnectSearchService(const RemoteOptions& options,
                                                              std::ostream& err) {
  auto credentials = MakeChannelCredentials(options.security);
  if (!credentials.ok()) {
    err << "deepevolve: " << credentials.status().message() << "\n";
    return nullptr;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  return v1::SearchService::NewStub(grpc::CreateCustomChannel(options.master, *credentials, args));
}

void PrepareCall(grpc::ClientContext& context, const RemoteOptions& options,
                 absl::Duration deadline) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  AddToken(context, options.security.token);
}

int RunSubmit(const RemoteOptions& options, const v1::SearchSpec& spec, bool watch,
              std::ostream& out, std::ostream& err) {
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  grpc::ClientContext context;
  PrepareCall(context, options, absl::Seconds(30));
  v1::SubmitRequest request;
  *request.mutable_spec() = spec;
  v1::SubmitResponse response;
  grpc::Status status = stub->Submit(&context, request, &response);
  if (!status.ok()) return Fail(options, "submit", status, err);
  if (options.json) {
    out << Json(response.search()) << "\n";
  } else {
    out << "submitted search " << response.search_id() << "\n";
    PrintSummary(response.search(), out);
  }
  if (!watch) return 0;
  return RunWatch(options, response.search_id(), out, err);
}

int RunWatch(const RemoteOptions& options, int64_t search_id, std::ostream& out,
             std::ostream& err) {
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  int64_t after = 0;
  WatchProgress progress(search_id);
  v1::SearchSummary summary;
  if (grpc::Status s = GetSummary(*stub, options, search_id, &summary); !s.ok()) {
    return Fail(options, "watch", s, err);
  }
  progress.Start(summary);
  if (options.show_waiting && !summary.waiting().empty() && !options.json) {
    err << "waiting: " << summary.waiting() << "\n";
  }
  for (int attempt = 0; attempt < 60; ++attempt) {
    grpc::ClientContext context;
    AddToken(context, options.security.token);
    v1::WatchRequest request;
    request.set_search_id(search_id);
    request.set_after_sequence(after);
    auto reader = stub->Watch(&context, request);
    v1::Event e;
    while (reader->Read(&e)) {
      attempt = 0;
      after = e.sequence();
      if (options.json) out << Json(e) << "\n" << std::flush;
      const bool finished = progress.Add(e);
      if (e.kind() == v1::Event::SEARCH_DONE) {
        if (options.live && !options.json) err << "\n";
        if (!options.json) PrintSummary(e.search(), out);
        return e.search().state() == v1::SUCCEEDED ? 0 : 3;
      }
      if (options.json) continue;
      if (options.live) {
        err << "\r\033[K" << progress.Line() << std::flush;
      } else if (finished) {
        out << progress.Line() << "\n";
      }
    }
    grpc::Status status = reader->Finish();
    if (!status.ok() && status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      return Fail(options, "watch", status, err);
    }
    if (status.ok()) {
      // The stream ended without SEARCH_DONE: the search had already ended.
      return RunStatus(options, search_id, out, err);
    }
    // The master went away: resume from the last event once it is back.
    if (attempt % 5 == 0) {
      err << "\ndeepevolve watch: lost the master at " << options.master << ", retrying\n";
    }
    absl::SleepFor(absl::Seconds(1));
  }
  err << "deepevolve watch: gave up on the master at " << options.master << "\n";
  return 1;
}

int RunStatus(const RemoteOptions& options, int64_t search_id, std::ostream& out,
              std::ostream& err) {
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  v1::SearchSummary summary;
  if (grpc::Status s = GetSummary(*stub, options, search_id, &summary); !s.ok()) {
    return Fail(options, "status", s, err);
  }
  if (options.json) {
    out << Json(summary) << "\n";
  } else {
    PrintSummary(summary, out);
  }
  return 0;
}

int RunList(const RemoteOptions& options, std::ostream& out, std::ostream& err) {
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  v1::ListResponse response;  // every page, newest first
  for (int64_t before = 0;;) {
    grpc::ClientContext context;
    PrepareCall(context, options, absl::Seconds(30));
    v1::ListRequest request;
    request.set_before_search_id(before);
    request.set_page_size(1000);
    v1::ListResponse page;
    grpc::Status status = stub->List(&context, request, &page);
    if (!status.ok()) return Fail(options, "list", status, err);
    for (v1::SearchSummary& s : *page.mutable_searches()) *response.add_searches() = std::move(s);
    before = page.next_before_search_id();
    if (before == 0) break;
  }
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  out << absl::StrFormat("%-6s %-10s %-22s %-14s %-10s %s\n", "id", "state", "name", "strategy",
                         "done", "best");
  for (const v1::SearchSummary& s : response.searches()) {
    out << absl::StrFormat(
        "%-6d %-10s %-22s %-14s %-10s %s\n", s.search_id(), StateName(s.state()), s.name(),
        ga::StrategyName(s.spec()), absl::StrCat(s.trials_done(), "/", s.trials_planned()),
        s.has_best() ? absl::StrFormat("%.2f%%", 100 * s.best().accuracy()) : std::string("-"));
  }
  return 0;
}

int RunTop(const RemoteOptions& options, int64_t search_id, int limit, std::ostream& out,
           std::ostream& err) {
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  grpc::ClientContext context;
  PrepareCall(context, options, absl::Seconds(30));
  v1::LeaderboardRequest request;
  request.set_search_id(search_id);
  request.set_limit(limit);
  v1::LeaderboardResponse response;
  grpc::Status status = stub->Leaderboard(&context, request, &response);
  if (!status.ok()) return Fail(options, "top", status, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  // The search's objectives, for each row's front.
  grpc::ClientContext get_context;
  PrepareCall(get_context, options, absl::Seconds(30));
  v1::GetRequest get;
  get.set_search_id(search_id);
  v1::SearchSummary summary;
  status = stub->Get(&get_context, get, &summary);
  if (!status.ok()) return Fail(options, "top", status, err);
  std::vector<int> fronts;
  if (ga::IsMultiObjective(summary.spec())) {
    std::vector<const v1::Trial*> ranked;
    for (const v1::Trial& t : response.trials()) ranked.push_back(&t);
    fronts = genome::FrontNumbers(genome::Objectives(summary.spec()), ranked);
  }
  PrintTrials(response.trials(), fronts, out);
  return 0;
}

int RunCancel(const RemoteOptions& options, int64_t search_id, std::ostream& out,
              std::ostream& err) {
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  grpc::ClientContext context;
  PrepareCall(context, options, absl::Seconds(30));
  v1::CancelRequest request;
  request.set_search_id(search_id);
  v1::SearchSummary summary;
  grpc::Status status = stub->Cancel(&context, request, &summary);
  if (!status.ok()) return Fail(options, "cancel", status, err);
  if (options.json) {
    out << Json(summary) << "\n";
  } else {
    PrintSummary(summary, out);
  }
  return 0;
}

grpc::Status ReadAllTrials(v1::SearchService::Stub& stub, const RemoteOptions& options,
                           int64_t search_id, std::vector<v1::Trial>* trials) {
  for (int64_t after = 0;;) {
    grpc::ClientContext context;
    PrepareCall(context, options, absl::Seconds(60));
    v1::ListTrialsRequest request;
    request.set_search_id(search_id);
    request.set_after_genome_id(after);
    request.set_page_size(10'000);
    v1::ListTrialsResponse response;
    grpc::Status s = stub.ListTrials(&context, request, &response);
    if (!s.ok()) return s;
    trials->insert(trials->end(), response.trials().begin(), response.trials().end());
    after = response.next_after_genome_id();
    if (after == 0) return grpc::Status::OK;
  }
}

int RunExport(const RemoteOptions& options, int64_t search_id, const std::string& genome,
              const std::string& path, std::ostream& out, std::ostream& err) {
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  v1::GetModelRequest request;
  request.set_search_id(search_id);
  int64_t id = 0;
  if (!genome.empty() && absl::SimpleAtoi(genome, &id) && id > 0 && genome.size() < 12) {
    request.set_genome_id(id);
  } else if (!genome.empty()) {
    // A hash prefix: the genome of the search whose hash begins so, if one alone does.
    if (genome.size() < 6 || genome.size() > 32 ||
        !std::all_of(genome.begin(), genome.end(),
                     [](char c) { return absl::ascii_isxdigit(c); })) {
      err << "deepevolve export: --genome: a genome id, or 6 to 32 hex digits of its hash\n";
      return 2;
    }
    std::vector<v1::Trial> trials;
    grpc::Status s = ReadAllTrials(*stub, options, search_id, &trials);
    if (!s.ok()) return Fail(options, "export", s, err);
    std::vector<const v1::Trial*> matching;
    for (const v1::Trial& t : trials) {
      if (absl::StartsWithIgnoreCase(t.genome().hash(), genome)) matching.push_back(&t);
    }
    if (matching.size() != 1) {
      err << "deepevolve export: search " << search_id << " has "
          << (matching.empty() ? "no genome" : absl::StrCat(matching.size(), " genomes"))
          << " whose hash begins with " << genome << "\n";
      return 1;
    }
    request.set_genome_id(matching.front()->genome().id());
  }
  grpc::ClientContext context;
  PrepareCall(context, options, absl::Seconds(120));
  v1::Model model;
  grpc::Status status = stub->GetModel(&context, request, &model);
  if (!status.ok()) return Fail(options, "export", status, err);
  std::ofstream file(path, std::ios::binary);
  file.write(model.data().data(), static_cast<std::streamsize>(model.data().size()));
  if (!file.good()) {
    err << "deepevolve export: cannot write " << path << "\n";
    return 1;
  }
  out << absl::StrFormat("wrote %s (%d bytes): genome %d, %s, %.2f%% val, %.2f%% test\n", path,
                         model.data().size(), model.trial().genome().id(),
                         model.trial().description(), 100 * model.trial().accuracy(),
                         100 * model.trial().test_accuracy());
  return 0;
}

int RunImport(const RemoteOptions& options, const v1::SearchSpec& spec,
              const std::vector<std::string>& files, const std::string& source, std::ostream& out,
              std::ostream& err) {
  // The space checks each file's genes as the master will; the master checks again.
  absl::StatusOr<v1::SearchSpec> resolved = ga::ResolveSearchSpec(spec);
  if (!resolved.ok()) {
    err << "deepevolve import: bad search spec: " << resolved.status().message() << "\n";
    return 1;
  }
  auto space =
      genome::SearchSpace::FromProto(resolved->space(), ga::GeneNamesFor(resolved->task()));
  if (!space.ok()) {
    err << "deepevolve import: bad search spec: " << space.status().message() << "\n";
    return 1;
  }
  v1::ImportTrialsRequest request;
  *request.mutable_spec() = spec;
  int skipped = 0;
  for (const std::string& file : files) {
    absl::StatusOr<FinishedTrials> read = ReadFinishedTrials(file, *space);
    if (!read.ok()) {
      err << "deepevolve import: " << read.status().message() << "\n";
      return 1;
    }
    skipped += read->skipped;
    for (v1::ImportedTrial& t : read->trials) *request.add_trials() = std::move(t);
  }
  request.set_source(source.empty() ? absl::StrJoin(files, ", ").substr(0, 256) : source);
  auto stub = ConnectSearchService(options, err);
  if (stub == nullptr) return 1;
  grpc::ClientContext context;
  PrepareCall(context, options, absl::Seconds(120));
  v1::ImportTrialsResponse response;
  if (grpc::Status s = stub->ImportTrials(&context, request, &response); !s.ok()) {
    return Fail(options, "import", s, err);
  }
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  out << "imported " << response.imported() << " trial" << (response.imported() == 1 ? "" : "s")
      << " into the ledger (" << response.already_recorded() << " already recorded, " << skipped
      << " not finished in the file" << (skipped == 1 ? "" : "s")
      << "): searches of this task answer them without training\n";
  return 0;
}

}  // namespace deepevolve::cli
