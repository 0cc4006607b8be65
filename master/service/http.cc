#include "master/service/http.h"

#include <httplib.h>

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "master/ga/spec.h"
#include "nlohmann/json.hpp"

namespace deepevolve::master {
namespace {

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

void Error(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
}

int HttpCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// The search id a route's pattern matched.
int64_t SearchId(const httplib::Request& req) {
  int64_t id = 0;
  (void)absl::SimpleAtoi(req.matches[1].str(), &id);
  return id;
}

// A query parameter's integer, 0 when it is absent or no integer.
int64_t IntParam(const httplib::Request& req, const char* name) {
  int64_t value = 0;
  if (req.has_param(name)) (void)absl::SimpleAtoi(req.get_param_value(name), &value);
  return value;
}

// A page size: IntParam held to [0, 2^31 - 1] (the master bounds it further), so that a
// huge one never wraps to a small one.
int32_t LimitParam(const httplib::Request& req, const char* name) {
  return static_cast<int32_t>(std::clamp<int64_t>(IntParam(req, name), 0, INT32_MAX));
}

std::string EscapeLabel(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

void Metric(std::string* out, const char* name, const char* type, const char* help, int64_t value) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  value, "\n");
}

}  // namespace

HttpFrontend::HttpFrontend(Master* master, const Authorizer* auth, const RpcMetrics* metrics,
                           const std::string& tls_cert_file, const std::string& tls_key_file,
                           const std::string& dashboard_dir)
    : master_(master),
      auth_(auth),
      metrics_(metrics),
      server_(tls_cert_file.empty() ? std::make_unique<httplib::Server>()
                                    : std::make_unique<httplib::SSLServer>(tls_cert_file.c_str(),
                                                                           tls_key_file.c_str())) {
  // Every request is a GET of a few kilobytes. Bounds first, so that nobody (the port
  // needs no token but for /api/) can make the master hold what it sends: bodies are
  // refused before they are read, reads time out, and the threads are many enough that
  // a handful of slow clients does not starve the probes. What the library cannot
  // bound (a header line without its newline, headers without number) the connection
  // guard cuts off (Start).
  server_->set_payload_max_length(kMaxHttpBodyBytes);
  server_->set_read_timeout(2, 0);
  server_->set_write_timeout(5, 0);
  server_->set_keep_alive_timeout(2);
  server_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const absl::Status health = master_->Health();
    res.status = health.ok() ? 200 : 503;
    res.set_content(health.ok() ? "ok\n" : absl::StrCat(health.message(), "\n"), "text/plain");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderMetrics(), "text/plain; version=0.0.4");
  });
  // Only GET and HEAD are served: any other method is refused here, before the
  // library reads its body, and the connection closed (the body is never read).
  // Everything under /api/ needs the token.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      Error(res, 405, absl::StrCat(req.method.substr(0, 16), " is not served here: GET only"));
      res.set_header("Allow", "GET, HEAD");
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path.rfind("/api/", 0) != 0 || auth_ == nullptr || !auth_->needs_token()) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string header = req.get_header_value("Authorization");
    constexpr char kBearer[] = "Bearer ";
    if (header.rfind(kBearer, 0) != 0 || !auth_->TokenMatches(header.substr(sizeof(kBearer) - 1))) {
      Error(res, 401, header.empty() ? "this master needs a bearer token" : "wrong bearer token");
      res.set_header("WWW-Authenticate", "Bearer");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // The JSON API: one named handler per route, one conversion of its status.
  Route(R"(/api/searches)", &HttpFrontend::ListSearches);
  Route(R"(/api/searches/(\d+))", &HttpFrontend::GetSearch);
  Route(R"(/api/searches/(\d+)/trials)", &HttpFrontend::ListTrials);
  Route(R"(/api/searches/(\d+)/leaderboard)", &HttpFrontend::Leaderboard);
  Route(R"(/api/searches/(\d+)/events)", &HttpFrontend::ListEvents);
  Route("/api/workers", &HttpFrontend::ListWorkers);
  if (!dashboard_dir.empty()) {
    // The page runs only its own scripts, from this port: a name or id that got through
    // as markup could not run code (the page builds text nodes in any case).
    const httplib::Headers policy = {
        {"Content-Security-Policy",
         "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
         "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
         "frame-ancestors 'none'; form-action 'self'"},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"}};
    server_->set_mount_point("/dashboard", dashboard_dir, policy);
    server_->set_mount_point("/dashboard/echarts", dashboard_dir + "/node_modules/echarts/dist",
                             policy);
    server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/dashboard/");
    });
  }
}

void HttpFrontend::Route(const char* pattern, Handler handler) {
  server_->Get(pattern, [this, handler](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<HttpReply> reply = (this->*handler)(req);
    if (!reply.ok())
      return Error(res, HttpCode(reply.status()), std::string(reply.status().message()));
    res.set_content(reply->body, "application/json");
  });
}

absl::StatusOr<HttpFrontend::HttpReply> HttpFrontend::ListSearches(const httplib::Request& req) {
  // A page: ?before=SEARCH_ID&limit=N, as List.
  v1::ListRequest list;
  list.set_before_search_id(IntParam(req, "before"));
  list.set_page_size(LimitParam(req, "limit"));
  ASSIGN_OR_RETURN(v1::ListResponse out, master_->List(list));
  return HttpReply{ToJson(out)};
}

absl::StatusOr<HttpFrontend::HttpReply> HttpFrontend::GetSearch(const httplib::Request& req) {
  ASSIGN_OR_RETURN(v1::SearchSummary s, master_->Get(SearchId(req)));
  return HttpReply{ToJson(s)};
}

absl::StatusOr<HttpFrontend::HttpReply> HttpFrontend::ListTrials(const httplib::Request& req) {
  // A page: ?after=GENOME_ID&limit=N, as ListTrials.
  v1::ListTrialsRequest page;
  page.set_search_id(SearchId(req));
  page.set_after_genome_id(IntParam(req, "after"));
  page.set_page_size(LimitParam(req, "limit"));
  ASSIGN_OR_RETURN(v1::ListTrialsResponse out, master_->ListTrials(page));
  return HttpReply{ToJson(out)};
}

absl::StatusOr<HttpFrontend::HttpReply> HttpFrontend::Leaderboard(const httplib::Request& req) {
  // ?limit=N, as Leaderboard: the search's trials in rank order (genome/trial_rank.h).
  v1::LeaderboardRequest board;
  board.set_search_id(SearchId(req));
  board.set_limit(LimitParam(req, "limit"));
  ASSIGN_OR_RETURN(v1::LeaderboardResponse out, master_->Leaderboard(board));
  return HttpReply{ToJson(out)};
}

absl::StatusOr<HttpFrontend::HttpReply> HttpFrontend::ListEvents(const httplib::Request& req) {
  bool finished = false;
  ASSIGN_OR_RETURN(
      std::vector<v1::Event> events,
      master_->WaitEvents(SearchId(req), IntParam(req, "after"), absl::ZeroDuration(), &finished));
  // compact=1 keeps only the genome id of a progress event's trial and drops the
  // search summaries: what a client that holds the trials and applies each event's
  // trial (the change it made) needs.
  const bool compact = req.get_param_value("compact") == "1";
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    v1::Event& e = events[i];
    if (compact && e.kind() == v1::Event::GENOME_PROGRESS) {
      const int64_t genome_id = e.trial().genome().id();
      e.clear_trial();
      e.mutable_trial()->mutable_genome()->set_id(genome_id);
    }
    if (compact) e.clear_search();
    absl::StrAppend(&body, i == 0 ? "" : ",", ToJson(e));
  }
  absl::StrAppend(&body, "],\"finished\":", finished ? "true" : "false", "}");
  return HttpReply{std::move(body)};
}

absl::StatusOr<HttpFrontend::HttpReply> HttpFrontend::ListWorkers(const httplib::Request&) {
  nlohmann::json workers = nlohmann::json::array();
  for (const WorkerInfo& w : master_->Workers()) {
    workers.push_back({{"worker_id", w.worker_id},
                       {"incarnation", w.incarnation},
                       {"devices", w.devices},
                       {"trainers", w.trainers},
                       {"builtin_trainer", w.builtin_trainer},
                       {"last_seen_unix_ms", w.last_seen_ms}});
  }
  return HttpReply{nlohmann::json{{"workers", workers}}.dump()};
}

HttpFrontend::~HttpFrontend() { Stop(); }

std::string HttpFrontend::FindDashboardDir() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const std::filesystem::path& dir :
       {self.parent_path().parent_path() / "share" / "deepevolve" / "dashboard",
        self.parent_path().parent_path().parent_path() / "dashboard"}) {
    if (std::filesystem::exists(dir / "index.html")) return dir.string();
  }
  return "";
}

absl::StatusOr<int> HttpFrontend::Start(const std::string& host, int port) {
  if (!server_->is_valid()) {
    return absl::InvalidArgumentError("cannot serve HTTPS: the certificate or key is not usable");
  }
  const int bound =
      port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", host, ":", port));
  }
  ConnectionGuard::Options guard;
  guard.max_bytes = kMaxHttpConnectionBytes;
  guard.max_age = kMaxHttpConnectionAge;
  guard_ = std::make_unique<ConnectionGuard>(bound, guard);
  guard_->Start();
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void HttpFrontend::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
  if (guard_ != nullptr) guard_->Stop();
}

std::string HttpFrontend::RenderMetrics() const {
  const MasterStats s = master_->Stats();
  std::string out;
  Metric(&out, "deepevolve_queue_depth", "gauge", "Genomes waiting for a worker.", s.queued);
  Metric(&out, "deepevolve_leases_active", "gauge", "Genomes being trained under a lease.",
         s.leases_active);
  Metric(&out, "deepevolve_leases_expired_total", "counter",
         "Leases that ran out (their genome went back to the queue).", s.leases_expired);
  Metric(&out, "deepevolve_checkpoints", "gauge",
         "Checkpoints of running trials on the master's disk (one per trial at most).",
         s.checkpoints);
  Metric(&out, "deepevolve_checkpoint_bytes", "gauge", "Their size on the master's disk.",
         s.checkpoint_bytes);
  Metric(&out, "deepevolve_checkpoints_saved_total", "counter",
         "Checkpoints accepted from workers (since start).", s.checkpoints_saved);
  Metric(&out, "deepevolve_checkpoints_refused_total", "counter",
         "Checkpoints not kept: a lease not live or not the sender's, an epoch not newer "
         "(since start).",
         s.checkpoints_refused);
  Metric(&out, "deepevolve_resumes_total", "counter",
         "Genomes handed out to resume from a checkpoint (since start).", s.resumes);
  Metric(&out, "deepevolve_reports_fenced_total", "counter",
         "Reports refused because their lease was no longer current.", s.reports_fenced);
  Metric(&out, "deepevolve_reports_refused_total", "counter",
         "Reports refused because the caller does not hold their lease (since start).",
         s.reports_refused);
  Metric(&out, "deepevolve_heartbeats_refused_total", "counter",
         "Heartbeats refused because the caller does not hold their lease (since start).",
         s.heartbeats_refused);
  Metric(&out, "deepevolve_setup_failures_total", "counter",
         "Trials a worker could not set up (requeued, not counted against the genome; since "
         "start).",
         s.setup_failures);
  Metric(&out, "deepevolve_genomes_done_total", "counter", "Genomes trained and recorded.",
         s.genomes_done);
  Metric(&out, "deepevolve_genomes_failed_total", "counter",
         "Genomes recorded failed (NaN loss, out of memory, a collapsing shape).",
         s.genomes_failed);
  Metric(&out, "deepevolve_genomes_pruned_total", "counter",
         "Genomes their search's pruner stopped early (recorded with their partial result).",
         s.genomes_pruned);
  Metric(&out, "deepevolve_ledger_hits_total", "counter",
         "Genomes answered from the ledger instead of trained.", s.ledger_hits);
  Metric(&out, "deepevolve_ledger_entries", "gauge", "Genome results in the ledger.",
         s.ledger_entries);
  Metric(&out, "deepevolve_workers", "gauge", "Workers registered.", s.workers);
  Metric(&out, "deepevolve_store_steps_total", "counter", "Operations written to the database.",
         s.store_steps);
  Metric(&out, "deepevolve_store_commits_total", "counter",
         "Transactions committed (group commit: several operations each under load).",
         s.store_commits);
  Metric(&out, "deepevolve_store_syncs_total", "counter",
         "WAL syncs to disk (each covers every commit before it).", s.store_syncs);
  Metric(&out, "deepevolve_store_checkpoints_total", "counter",
         "WAL checkpoints into the database file (in the background).", s.store_checkpoints);
  absl::StrAppend(&out,
                  "# HELP deepevolve_store_commit_seconds Time to commit a batch (under the "
                  "master's lock).\n# TYPE deepevolve_store_commit_seconds histogram\n");
  master_->commit_seconds().Render("deepevolve_store_commit_seconds", "", &out);
  absl::StrAppend(&out,
                  "# HELP deepevolve_store_sync_seconds Time to sync the WAL to disk (outside "
                  "the lock; each covers every commit before it).\n"
                  "# TYPE deepevolve_store_sync_seconds histogram\n");
  master_->sync_seconds().Render("deepevolve_store_sync_seconds", "", &out);
  absl::StrAppend(&out,
                  "# HELP deepevolve_search_best_accuracy Best fitness found so far, per "
                  "search.\n# TYPE deepevolve_search_best_accuracy gauge\n");
  std::string done =
      "# HELP deepevolve_search_genomes_done Genomes finished, per search.\n"
      "# TYPE deepevolve_search_genomes_done gauge\n";
  std::string pruned =
      "# HELP deepevolve_search_genomes_pruned Genomes the pruner stopped, per search.\n"
      "# TYPE deepevolve_search_genomes_pruned gauge\n";
  std::string trained =
      "# HELP deepevolve_search_epochs_trained Epochs trained by finished genomes, per "
      "search.\n# TYPE deepevolve_search_epochs_trained gauge\n";
  std::string saved =
      "# HELP deepevolve_search_epochs_saved Epochs pruned genomes did not train, per "
      "search.\n# TYPE deepevolve_search_epochs_saved gauge\n";
  std::string front =
      "# HELP deepevolve_search_front_size Genomes on the Pareto front, per search of "
      "several objectives.\n# TYPE deepevolve_search_front_size gauge\n";
  std::string hypervolume =
      "# HELP deepevolve_search_hypervolume Share of the box between the worst and best "
      "objective values of its trained genomes that its front covers, per search of several "
      "objectives.\n# TYPE deepevolve_search_hypervolume gauge\n";
  // Running searches and those finished in the last --forget-after-seconds: a finished
  // search's series ends after that, so that the export does not grow for ever.
  for (const v1::SearchSummary& search : master_->Current()) {
    const std::string labels = absl::StrCat("search=\"", search.search_id(), "\",name=\"",
                                            EscapeLabel(search.name()), "\"");
    if (search.has_best()) {
      absl::StrAppend(&out, "deepevolve_search_best_accuracy{", labels, "} ",
                      absl::StrFormat("%.6f", search.best().accuracy()), "\n");
    }
    absl::StrAppend(&done, "deepevolve_search_genomes_done{", labels, "} ", search.trials_done(),
                    "\n");
    absl::StrAppend(&pruned, "deepevolve_search_genomes_pruned{", labels, "} ", search.pruned(),
                    "\n");
    absl::StrAppend(&trained, "deepevolve_search_epochs_trained{", labels, "} ",
                    search.epochs_trained(), "\n");
    absl::StrAppend(&saved, "deepevolve_search_epochs_saved{", labels, "} ", search.epochs_saved(),
                    "\n");
    if (ga::IsMultiObjective(search.spec())) {
      absl::StrAppend(&front, "deepevolve_search_front_size{", labels, "} ", search.front_size(),
                      "\n");
      absl::StrAppend(&hypervolume, "deepevolve_search_hypervolume{", labels, "} ",
                      absl::StrFormat("%.6f", search.hypervolume()), "\n");
    }
  }
  out += done + pruned + trained + saved + front + hypervolume;
  if (metrics_ != nullptr) metrics_->Render(&out);
  return out;
}

}  // namespace deepevolve::master
