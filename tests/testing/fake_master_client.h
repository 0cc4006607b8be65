// A scripted master for the worker loop: answers queued per call, a default answer
// when the queue is empty, and every request recorded. No sockets.
#ifndef DEEPEVOLVE_TESTS_TESTING_FAKE_MASTER_CLIENT_H_
#define DEEPEVOLVE_TESTS_TESTING_FAKE_MASTER_CLIENT_H_

#include <deque>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "worker/daemon/master_client.h"

namespace deepevolve::testing {

// Defaults: Register succeeds with leases of 10 minutes (so that the loop's background
// heartbeats never run in a test), Acquire has no work (and first calls the idle hook,
// where a test stops the loop), Heartbeat succeeds, Report is accepted, SaveCheckpoint
// is accepted (answering as Heartbeat does), GetCheckpoint finds none.
//
// Thread-safe.
class FakeMasterClient : public worker::MasterClient {
 public:
  void QueueRegister(absl::StatusOr<v1::RegisterResponse> answer);
  void QueueAcquire(absl::StatusOr<v1::AcquireResponse> answer);
  void QueueHeartbeat(absl::StatusOr<v1::HeartbeatResponse> answer);
  void QueueReport(absl::StatusOr<v1::ReportResponse> answer);
  void QueueSaveCheckpoint(absl::StatusOr<v1::SaveCheckpointResponse> answer);
  void QueueGetCheckpoint(absl::StatusOr<Checkpoint> answer);
  // Runs (outside the fake's lock) whenever Acquire finds its queue empty.
  void SetWhenIdle(std::function<void()> hook);

  std::vector<v1::RegisterRequest> registers() const;
  std::vector<v1::AcquireRequest> acquires() const;
  std::vector<v1::HeartbeatRequest> heartbeats() const;
  std::vector<v1::ReportRequest> reports() const;
  // A checkpoint sent as a file in this shared directory (CheckpointChunk.shared_file)
  // is recorded as "shared " and the file's contents.
  void ShareCheckpointDir(std::string dir) { shared_dir_ = std::move(dir); }
  // Each SaveCheckpoint's progress and data.
  std::vector<std::pair<v1::HeartbeatRequest, std::string>> saved_checkpoints() const;
  std::vector<v1::GetCheckpointRequest> checkpoint_fetches() const;

  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& r) override;
  absl::StatusOr<v1::AcquireResponse> Acquire(const v1::AcquireRequest& r) override;
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& r) override;
  absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& r) override;
  absl::StatusOr<v1::SaveCheckpointResponse> SaveCheckpoint(const v1::CheckpointChunk& header,
                                                            const std::string& data) override;
  absl::StatusOr<Checkpoint> GetCheckpoint(const v1::GetCheckpointRequest& r) override;

 private:
  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<v1::RegisterResponse>> register_answers_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<v1::AcquireResponse>> acquire_answers_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<v1::HeartbeatResponse>> heartbeat_answers_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<v1::ReportResponse>> report_answers_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<v1::SaveCheckpointResponse>> save_answers_ ABSL_GUARDED_BY(mu_);
  std::string shared_dir_;
  std::deque<absl::StatusOr<Checkpoint>> get_answers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<v1::HeartbeatRequest, std::string>> saves_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::GetCheckpointRequest> fetches_ ABSL_GUARDED_BY(mu_);
  std::function<void()> when_idle_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::RegisterRequest> registers_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::AcquireRequest> acquires_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::HeartbeatRequest> heartbeats_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReportRequest> reports_ ABSL_GUARDED_BY(mu_);
};

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_FAKE_MASTER_CLIENT_H_
