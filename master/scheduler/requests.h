// What a worker's request must hold before the master acts on it: the checks of the
// trust boundary that need no state.
#ifndef DEEPEVOLVE_MASTER_SCHEDULER_REQUESTS_H_
#define DEEPEVOLVE_MASTER_SCHEDULER_REQUESTS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "deepevolve/v1/service.pb.h"
#include "master/scheduler/lease_table.h"

namespace deepevolve::master {

// Accuracies are numbers in [0, 1], the training time finite and >= 0, the error at
// most 4 KiB. INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateReport(const v1::ReportRequest& request);

// An epoch's progress: epoch >= 0 (0 renews the lease only); with an epoch, the
// validation accuracy in [0, 1] and the loss and elapsed time finite and >= 0 (a
// pruner decides on these numbers). INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateHeartbeat(const v1::HeartbeatRequest& request);

// Worker ids and device names are plain names (shown in the CLI, the dashboard and
// logs): 1 to 256 of letters, digits and . _ - : @ /, starting with a letter or digit.
bool IsPlainName(absl::string_view name);
// INVALID_ARGUMENT naming the field for an id or device name that is not plain, more
// than 64 devices or a description over 1 KiB, more than kMaxWorkerTrainers trainers or
// one whose name is not a trainer's (genome::CheckTrainerName).
inline constexpr int kMaxWorkerTrainers = 64;
absl::Status ValidateRegistration(const v1::RegisterRequest& request);

// PERMISSION_DENIED for a heartbeat or report from someone other than the lease's
// holder.
absl::Status NotTheHolder(const Lease& lease, const std::string& worker_id, int64_t incarnation);

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SCHEDULER_REQUESTS_H_
