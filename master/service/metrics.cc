#include "master/service/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace deepevolve::master {

const char* RpcMetrics::Name(Method m) {
  static constexpr const char* kNames[] = {
      "Submit",         "Get",           "List",     "Watch",       "Cancel",    "Leaderboard",
      "ListTrials",     "GetModel",      "Register", "Acquire",     "Heartbeat", "Report",
      "SaveCheckpoint", "GetCheckpoint", "ReadSpec", "ImportTrials"};
  return kNames[m];
}

void RpcMetrics::Render(std::string* out) const {
  absl::StrAppend(out,
                  "# HELP deepevolve_rpc_duration_seconds Time the master spent on each RPC "
                  "(Acquire includes its long-poll wait for work; Report includes the durable "
                  "commit).\n# TYPE deepevolve_rpc_duration_seconds histogram\n");
  for (int m = 0; m < kNumMethods; ++m) {
    histograms_[m].Render("deepevolve_rpc_duration_seconds",
                          absl::StrCat("method=\"", Name(static_cast<Method>(m)), "\""), out);
  }
  absl::StrAppend(out,
                  "# HELP deepevolve_worker_calls_refused_total Worker calls refused because "
                  "the caller's certificate names another worker (since start).\n"
                  "# TYPE deepevolve_worker_calls_refused_total counter\n"
                  "deepevolve_worker_calls_refused_total ",
                  impersonations_.load(), "\n");
}

}  // namespace deepevolve::master
