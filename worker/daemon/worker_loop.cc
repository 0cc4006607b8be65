#include "worker/daemon/worker_loop.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/files.h"
#include "genome/metrics.h"
#include "spdlog/spdlog.h"

namespace deepevolve::worker {

WorkerLoop::WorkerLoop(MasterClient* master, TrainFn train, WorkerOptions options)
    : master_(master), train_(std::move(train)), options_(std::move(options)) {}

void WorkerLoop::Backoff(int attempt) {
  const absl::Duration wait =
      std::min(options_.max_backoff, absl::Milliseconds(100) * (1 << std::min(attempt, 10)));
  absl::SleepFor(wait);
}

absl::StatusOr<std::string> WorkerLoop::StageShared(const std::string& data) {
  static std::atomic<int64_t> staged{0};
  // [A-Za-z0-9._-] only, as the master checks: worker ids are plain names.
  const std::string name = absl::StrCat(kStagedPrefix, "w-", options_.worker_id, "-", getpid(), "-",
                                        staged.fetch_add(1));
  if (absl::Status s = WriteNewFile(absl::StrCat(options_.checkpoint_dir, "/", name), data,
                                    /*sync=*/true);
      !s.ok()) {
    return s;
  }
  return name;
}

absl::StatusOr<std::string> WorkerLoop::ReadShared(const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a file name"));
  }
  const std::string path = absl::StrCat(options_.checkpoint_dir, "/", name);
  absl::StatusOr<std::optional<std::string>> read = ReadWholeFile(path);
  if (!read.ok()) return read.status();
  if (!read->has_value()) return absl::NotFoundError(absl::StrCat("no file ", path));
  return **std::move(read);
}

absl::Status WorkerLoop::RegisterWithBackoff() {
  v1::RegisterRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_incarnation(options_.incarnation);
  for (const v1::Device& d : options_.devices) *request.add_devices() = d;
  for (const std::string& t : options_.trainers) request.add_trainers(t);
  request.set_no_builtin_trainer(!options_.builtin_trainer);
  for (int attempt = 0; !stop_; ++attempt) {
    absl::StatusOr<v1::RegisterResponse> response = master_->Register(request);
    if (response.ok()) {
      lease_ms_ = response->lease_ms();
      return absl::OkStatus();
    }
    // Retrying cannot mend a refusal.
    if (absl::IsInvalidArgument(response.status()) || absl::IsUnauthenticated(response.status()) ||
        absl::IsPermissionDenied(response.status())) {
      return response.status();
    }
    if (attempt % 10 == 0) spdlog::warn("register: {}", response.status().ToString());
    Backoff(attempt);
  }
  return absl::CancelledError("stopped");
}

absl::Status WorkerLoop::Run() {
  if (absl::Status s = RegisterWithBackoff(); !s.ok())
    return absl::IsCancelled(s) ? absl::OkStatus() : s;
  spdlog::info("worker {} registered (leases of {} ms)", options_.worker_id, lease_ms_);
  int failures = 0;
  std::optional<v1::Assignment> next;  // handed over with the last report
  while (!stop_) {
    if (next.has_value()) {
      v1::Assignment assignment = *std::move(next);
      next.reset();
      if (absl::Status s = RunTrial(assignment, &next); !s.ok()) {
        spdlog::warn("trial of lease {}: {}", assignment.lease_id(), s.ToString());
      }
      ++trials_done_;
      if (options_.max_trials > 0 && trials_done_ >= options_.max_trials) break;
      continue;
    }
    v1::AcquireRequest request;
    request.set_worker_id(options_.worker_id);
    request.set_incarnation(options_.incarnation);
    request.set_wait_ms(absl::ToInt64Milliseconds(options_.acquire_wait));
    absl::StatusOr<v1::AcquireResponse> response = master_->Acquire(request);
    if (!response.ok()) {
      if (absl::IsFailedPrecondition(response.status())) {
        // The master restarted and forgot us: register again.
        if (absl::Status s = RegisterWithBackoff(); !s.ok()) {
          return absl::IsCancelled(s) ? absl::OkStatus() : s;
        }
        continue;
      }
      if (failures++ % 10 == 0) spdlog::warn("acquire: {}", response.status().ToString());
      Backoff(failures);
      continue;
    }
    failures = 0;
    if (!response->has_assignment()) continue;
    if (absl::Status s = RunTrial(response->assignment(), &next); !s.ok()) {
      spdlog::warn("trial of lease {}: {}", response->assignment().lease_id(), s.ToString());
    }
    ++trials_done_;
    if (options_.max_trials > 0 && trials_done_ >= options_.max_trials) break;
  }
  if (next.has_value()) {
    spdlog::info("stopping with lease {} untouched; it expires and runs elsewhere",
                 next->lease_id());
  }
  return absl::OkStatus();
}

absl::Status WorkerLoop::RunTrial(const v1::Assignment& assignment,
                                  std::optional<v1::Assignment>* next) {
  const int64_t lease_id = assignment.lease_id();
  spdlog::info("lease {}: search {} genome {} ({})", lease_id, assignment.search_id(),
               assignment.genome().id(), assignment.genome().hash());
  std::atomic<bool> cancelled{false};
  std::atomic<bool> pruned{false};
  // The search's best so far, as the master last said: a model that cannot beat it is
  // not uploaded.
  std::atomic<double> best{assignment.has_best_accuracy() ? assignment.best_accuracy() : -1};
  // Checkpoints: when the master wants the training state saved, and the state it holds
  // to resume from. A checkpoint that cannot be had is trained without, saying why.
  genome::Checkpoints checkpoints;
  const genome::Checkpoints* use_checkpoints = nullptr;
  std::string fetch_error;
  if (assignment.has_checkpoint() && !assignment.checkpoint().disabled()) {
    use_checkpoints = &checkpoints;
    checkpoints.now = &drain_;
    checkpoints.every_epochs = assignment.checkpoint().every_epochs();
    checkpoints.every_seconds = assignment.checkpoint().every_seconds();
    if (checkpoints.every_epochs <= 0 && checkpoints.every_seconds <= 0) {
      checkpoints.every_epochs = 1;
    }
    checkpoints.stop_epoch = assignment.stop_epoch();
    if (assignment.resume_epoch() > 0 && !options_.checkpoint_dir.empty() &&
        !assignment.checkpoint_file().empty()) {
      // The master keeps it in the directory this worker shares: read it there.
      absl::StatusOr<std::string> read = ReadShared(assignment.checkpoint_file());
      if (read.ok() && !read->empty()) {
        checkpoints.resume = *std::move(read);
        spdlog::info("lease {}: resuming after epoch {} from the shared directory", lease_id,
                     assignment.resume_epoch());
      } else {
        spdlog::warn("lease {}: the shared checkpoint cannot be read ({}); fetching it", lease_id,
                     read.ok() ? "the file is empty" : std::string(read.status().message()));
      }
    }
    if (assignment.resume_epoch() > 0 && checkpoints.resume.empty()) {
      v1::GetCheckpointRequest request;
      request.set_lease_id(lease_id);
      request.set_worker_id(options_.worker_id);
      request.set_incarnation(options_.incarnation);
      // Retried through a master restart, as an epoch's progress is: a checkpoint not
      // fetched costs every epoch it holds.
      absl::StatusOr<MasterClient::Checkpoint> got = master_->GetCheckpoint(request);
      for (int attempt = 0;
           attempt < kEpochHeartbeatRetries && !abort_ &&
           (absl::IsUnavailable(got.status()) || absl::IsDeadlineExceeded(got.status()));
           ++attempt) {
        Backoff(attempt);
        got = master_->GetCheckpoint(request);
      }
      if (!got.ok()) {
        fetch_error = absl::StrCat("the checkpoint after epoch ", assignment.resume_epoch(),
                                   " could not be fetched: ", got.status().message());
      } else if (got->epoch != assignment.resume_epoch()) {
        fetch_error = absl::StrCat("the master sent the checkpoint after epoch ", got->epoch,
                                   ", not ", assignment.resume_epoch());
      } else {
        checkpoints.resume = std::move(got->data);
        spdlog::info("lease {}: resuming after epoch {}", lease_id, got->epoch);
      }
      if (!fetch_error.empty())
        spdlog::warn("lease {}: {}; training from epoch 1", lease_id, fetch_error);
    }
  }
  auto beat = [&](const EpochProgress* epoch) {
    v1::HeartbeatRequest request;
    request.set_lease_id(lease_id);
    request.set_worker_id(options_.worker_id);
    request.set_incarnation(options_.incarnation);
    if (epoch != nullptr) {
      request.set_epoch(epoch->epoch);
      request.set_epochs(epoch->epochs);
      request.set_loss(epoch->loss);
      request.set_val_accuracy(epoch->val_accuracy);
      request.set_elapsed_seconds(epoch->elapsed_seconds);
      genome::CopyMetrics(epoch->metrics, request.mutable_metrics());
      request.set_resumed_from_epoch(epoch->resumed_from_epoch);
      request.set_resume_error(epoch->resume_error.empty() ? fetch_error : epoch->resume_error);
    }
    // An epoch's progress is retried through a master restart, so that a pruner still
    // decides at that epoch; a lease renewal is not (the next one comes soon).
    auto retried = [&](auto call) {
      auto response = call();
      for (int attempt = 0;
           epoch != nullptr && attempt < kEpochHeartbeatRetries && !abort_ &&
           (absl::IsUnavailable(response.status()) || absl::IsDeadlineExceeded(response.status()));
           ++attempt) {
        Backoff(attempt);
        response = call();
      }
      return response;
    };
    absl::StatusOr<v1::HeartbeatResponse> response = absl::UnknownError("not sent");
    bool sent = false;
    if (epoch != nullptr && !epoch->checkpoint.empty()) {
      // The epoch's progress and the state after it, recorded together: written in the
      // shared directory (where there is one) or streamed.
      v1::CheckpointChunk header;
      *header.mutable_progress() = request;
      absl::StatusOr<v1::SaveCheckpointResponse> saved = absl::UnknownError("not sent");
      if (!options_.checkpoint_dir.empty() && shared_checkpoints_) {
        absl::StatusOr<std::string> staged = StageShared(epoch->checkpoint);
        if (staged.ok()) {
          header.set_shared_file(*staged);
          saved = retried([&] { return master_->SaveCheckpoint(header, ""); });
          // Kept (moved into place) or refused (removed) by the master; otherwise ours.
          unlink(absl::StrCat(options_.checkpoint_dir, "/", *staged).c_str());
          if (absl::IsFailedPrecondition(saved.status()) || absl::IsNotFound(saved.status()) ||
              absl::IsInvalidArgument(saved.status())) {
            // No shared directory there, or not this one.
            spdlog::warn(
                "the master does not share --checkpoint-dir {} ({}): checkpoints are "
                "sent to it instead",
                options_.checkpoint_dir, std::string(saved.status().message()));
            shared_checkpoints_ = false;
          }
        } else {
          spdlog::warn("lease {}: {}; sending the checkpoint instead", lease_id,
                       std::string(staged.status().message()));
        }
        header.clear_shared_file();
      }
      if (!saved.ok()) {
        saved = retried([&] { return master_->SaveCheckpoint(header, epoch->checkpoint); });
      }
      if (saved.ok() && saved->accepted()) {
        response = std::move(*saved->mutable_heartbeat());
        sent = true;
      } else {
        spdlog::warn("lease {}: the checkpoint after epoch {} is not kept: {}", lease_id,
                     epoch->epoch, saved.ok() ? saved->reason() : saved.status().ToString());
      }
    }
    if (!sent) response = retried([&] { return master_->Heartbeat(request); });
    if (response.ok() && response->stop()) cancelled = true;
    if (response.ok() && response->prune()) pruned = true;
    if (response.ok() && response->has_best_accuracy()) best = response->best_accuracy();
    if (!response.ok() && absl::IsNotFound(response.status())) cancelled = true;
  };
  // Epochs can outlast a lease: a thread renews it in between.
  absl::Notification trained;
  std::thread heartbeats([&] {
    const absl::Duration period = absl::Milliseconds(std::max<int64_t>(10, lease_ms_ / 3));
    while (!trained.WaitForNotificationWithTimeout(period)) beat(nullptr);
  });
  // A trial that can resume elsewhere is handed back after the epoch in hand when the
  // worker drains (the built-in trainer sends that epoch's checkpoint with it).
  const bool resumable = use_checkpoints != nullptr && assignment.task().trainer().empty();
  bool released = false;
  std::string model;
  absl::StatusOr<genome::TrialResult> result = train_(
      assignment,
      [&](const EpochProgress& epoch) {
        if (epoch.epoch > 0) beat(&epoch);
        if (cancelled || abort_) return AfterEpoch::kCancel;
        if (pruned) return AfterEpoch::kStop;
        const int last = assignment.stop_epoch() > 0 ? assignment.stop_epoch() : epoch.epochs;
        if (drain_ && resumable && epoch.epoch > 0 && epoch.epoch < last) {
          released = true;
          return AfterEpoch::kCancel;
        }
        return AfterEpoch::kContinue;
      },
      assignment.upload_model() ? &model : nullptr, use_checkpoints);
  trained.Notify();
  heartbeats.join();
  if (abort_) return absl::CancelledError("worker stopped before the trial ended");
  if (released && !result.ok() && absl::IsCancelled(result.status())) {
    v1::ReportRequest handback;
    handback.set_lease_id(lease_id);
    handback.set_worker_id(options_.worker_id);
    handback.set_incarnation(options_.incarnation);
    handback.set_released(true);
    absl::StatusOr<v1::ReportResponse> response = master_->Report(handback);
    spdlog::info("lease {}: handed back to the master (draining){}", lease_id,
                 response.ok() ? "" : absl::StrCat(": ", response.status().ToString()));
    return absl::OkStatus();
  }
  if (!result.ok() && absl::IsCancelled(result.status())) {
    return absl::CancelledError("the master asked to stop (search cancelled or lease lost)");
  }
  v1::ReportRequest report;
  report.set_lease_id(lease_id);
  report.set_worker_id(options_.worker_id);
  if (result.ok()) {
    report.set_ok(result->ok);
    report.set_accuracy(result->accuracy);
    report.set_test_accuracy(result->test_accuracy);
    report.set_train_seconds(result->train_seconds);
    report.set_epochs_run(result->epochs_run);
    report.set_error(result->error);
    genome::CopyMetrics(result->metrics, report.mutable_metrics());
    // Stopped on the master's word: say so, so that the result is never taken for a
    // full training (a master that crashed before its decision was durable forgot it).
    if (pruned && result->ok && result->epochs_run < assignment.task().epochs()) {
      report.set_pruned_at_epoch(result->epochs_run);
    }
    if (result->ok && result->accuracy > best) report.set_model(std::move(model));
  } else {
    // The trainer's errors are about this worker's set-up, not the genome (TrainFn).
    report.set_ok(false);
    report.set_failure_kind(v1::FAILURE_KIND_SETUP);
    report.set_error(absl::StrCat("worker ", options_.worker_id, ": ", result.status().ToString()));
  }
  report.set_incarnation(options_.incarnation);
  report.set_acquire_next(!stop_ &&
                          (options_.max_trials == 0 || trials_done_ + 1 < options_.max_trials));
  // Reports are idempotent per lease: retry through a master restart.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<v1::ReportResponse> response = master_->Report(report);
    if (response.ok()) {
      if (!response->accepted())
        spdlog::warn("lease {}: report came too late, not counted", lease_id);
      if (response->has_next()) *next = std::move(*response->mutable_next());
      return absl::OkStatus();
    }
    if (!absl::IsUnavailable(response.status()) && !absl::IsDeadlineExceeded(response.status())) {
      return response.status();
    }
    if (abort_ || attempt > 200) return response.status();
    Backoff(attempt);
  }
}

}  // namespace deepevolve::worker
