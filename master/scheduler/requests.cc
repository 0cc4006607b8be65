#include "master/scheduler/requests.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "genome/genome.h"
#include "genome/metrics.h"

namespace deepevolve::master {
namespace {

bool ValidFraction(double x) { return std::isfinite(x) && x >= 0 && x <= 1; }

}  // namespace

absl::Status ValidateReport(const v1::ReportRequest& request) {
  if (!ValidFraction(request.accuracy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("accuracy: ", request.accuracy(), " is not a number in [0, 1]"));
  }
  if (!ValidFraction(request.test_accuracy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("test_accuracy: ", request.test_accuracy(), " is not a number in [0, 1]"));
  }
  if (!std::isfinite(request.train_seconds()) || request.train_seconds() < 0) {
    return absl::InvalidArgumentError("train_seconds: must be a finite number >= 0");
  }
  if (request.error().size() > 4096) {
    return absl::InvalidArgumentError("error: longer than 4096 characters");
  }
  // Checked against the task's epochs once the lease's search is known (Master::Report).
  if (request.epochs_run() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("epochs_run: ", request.epochs_run(), " is negative"));
  }
  return genome::CheckMetrics(genome::MetricsFrom(request.metrics()));
}

absl::Status ValidateHeartbeat(const v1::HeartbeatRequest& request) {
  if (request.epoch() < 0 || request.epochs() < 0) {
    return absl::InvalidArgumentError("epoch, epochs: must be >= 0");
  }
  if (request.epoch() == 0) return absl::OkStatus();  // a lease renewal, no progress
  if (!ValidFraction(request.val_accuracy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("val_accuracy: ", request.val_accuracy(), " is not a number in [0, 1]"));
  }
  if (!std::isfinite(request.loss()) || request.loss() < 0) {
    return absl::InvalidArgumentError("loss: must be a finite number >= 0");
  }
  if (!std::isfinite(request.elapsed_seconds()) || request.elapsed_seconds() < 0) {
    return absl::InvalidArgumentError("elapsed_seconds: must be a finite number >= 0");
  }
  if (request.resumed_from_epoch() < 0 || request.resumed_from_epoch() >= request.epoch()) {
    return absl::InvalidArgumentError("resumed_from_epoch: must be >= 0 and below epoch");
  }
  if (request.resume_error().size() > 4096) {
    return absl::InvalidArgumentError("resume_error: longer than 4096 characters");
  }
  return genome::CheckMetrics(genome::MetricsFrom(request.metrics()));
}

bool IsPlainName(absl::string_view name) {
  return !name.empty() && name.size() <= 256 && absl::ascii_isalnum(name[0]) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' ||
                  c == '@' || c == '/';
         });
}

absl::Status ValidateRegistration(const v1::RegisterRequest& request) {
  if (!IsPlainName(request.worker_id())) {
    return absl::InvalidArgumentError(
        "worker_id: must be 1 to 256 characters of letters, digits and . _ - : @ /, "
        "starting with a letter or digit");
  }
  if (request.devices_size() > 64) {
    return absl::InvalidArgumentError("devices: more than 64");
  }
  for (int i = 0; i < request.devices_size(); ++i) {
    if (!IsPlainName(request.devices(i).name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "devices[", i, "].name: must be a plain name (letters, digits and . _ - : @ /)"));
    }
    if (request.devices(i).description().size() > 1024) {
      return absl::InvalidArgumentError(
          absl::StrCat("devices[", i, "].description: longer than 1024 characters"));
    }
  }
  if (request.trainers_size() > kMaxWorkerTrainers) {
    return absl::InvalidArgumentError(absl::StrCat("trainers: more than ", kMaxWorkerTrainers));
  }
  for (int i = 0; i < request.trainers_size(); ++i) {
    if (absl::Status s = genome::CheckTrainerName(request.trainers(i)); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("trainers[", i, "]: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status NotTheHolder(const Lease& lease, const std::string& worker_id, int64_t incarnation) {
  return absl::PermissionDeniedError(absl::StrCat("lease ", lease.id, " is not held by worker ",
                                                  worker_id, " (incarnation ", incarnation, ")"));
}

}  // namespace deepevolve::master
