// The `deepevolve` verbs that talk to a master over gRPC: submit, watch, status, list,
// top, cancel, export. Each returns the exit code (0 ok, 1 failure reported on `err`,
// 3 a watched search that ended cancelled or failed).
#ifndef DEEPEVOLVE_CLI_REMOTE_H_
#define DEEPEVOLVE_CLI_REMOTE_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/grpc_security.h"
#include "deepevolve/v1/search.pb.h"
#include "deepevolve/v1/service.grpc.pb.h"

namespace deepevolve::cli {

struct RemoteOptions {
  std::string master = "127.0.0.1:50051";
  ClientSecurity security;  // TLS roots or plaintext, and the bearer token
  bool json = false;        // print protobuf JSON instead of text
  bool live = true;         // watch: a live progress line (else a line per event)
  // watch: say when no registered worker can train the search (off for `local`, whose
  // workers are still registering when it starts watching).
  bool show_waiting = true;
};

// A SearchService stub for the options' master that accepts messages as large as a
// model file; null after telling `err` why the credentials could not be made.
std::unique_ptr<v1::SearchService::Stub> ConnectSearchService(const RemoteOptions& options,
                                                              std::ostream& err);

// Sets a call's deadline and adds the bearer token.
void PrepareCall(grpc::ClientContext& context, const RemoteOptions& options,
                 absl::Duration deadline);

// What a leaderboard row says of its trial beyond its result: "(ledger)", "(pruned at
// epoch N)", "(member M, epochs A-B)" for a round of population-based training; "" for
// a plain training. The row's schedule, if any, goes on a line of its own.
std::string TrialNote(const v1::Trial& t);

int RunSubmit(const RemoteOptions& options, const v1::SearchSpec& spec, bool watch,
              std::ostream& out, std::ostream& err);
int RunWatch(const RemoteOptions& options, int64_t search_id, std::ostream& out, std::ostream& err);
int RunStatus(const RemoteOptions& options, int64_t search_id, std::ostream& out,
              std::ostream& err);
int RunList(const RemoteOptions& options, std::ostream& out, std::ostream& err);
int RunTop(const RemoteOptions& options, int64_t search_id, int limit, std::ostream& out,
           std::ostream& err);
int RunCancel(const RemoteOptions& options, int64_t search_id, std::ostream& out,
              std::ostream& err);
// Every trial of search `search_id`, page by page, into `*trials`.
grpc::Status ReadAllTrials(v1::SearchService::Stub& stub, const RemoteOptions& options,
                           int64_t search_id, std::vector<v1::Trial>* trials);

// Imports the finished trials of results files (genomes.json or genomes.csv of another
// run) into the master's ledger under `spec`'s task: `deepevolve import`.
int RunImport(const RemoteOptions& options, const v1::SearchSpec& spec,
              const std::vector<std::string>& files, const std::string& source, std::ostream& out,
              std::ostream& err);

// Writes the model of search `search_id`'s genome `genome` — its id, or a prefix of its
// hash of at least 6 characters — to `path`; its best genome's when `genome` is empty.
int RunExport(const RemoteOptions& options, int64_t search_id, const std::string& genome,
              const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_REMOTE_H_
