// The master as a worker sees it: the four WorkerService calls, in messages only. The
// worker loop talks to this interface; grpc_master_client.h implements it over gRPC,
// tests with a scripted fake (tests/testing/fake_master_client.h).
#ifndef DEEPEVOLVE_WORKER_DAEMON_MASTER_CLIENT_H_
#define DEEPEVOLVE_WORKER_DAEMON_MASTER_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "deepevolve/v1/service.pb.h"

namespace deepevolve::worker {

// Each call returns the master's answer or its status, with the codes service.proto
// documents (UNAVAILABLE: the master is away, retry; FAILED_PRECONDITION on Acquire:
// register again; NOT_FOUND on Heartbeat: the lease is unknown). Implementations are
// thread-safe: the worker heartbeats from a second thread.
class MasterClient {
 public:
  virtual ~MasterClient() = default;
  virtual absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& r) = 0;
  virtual absl::StatusOr<v1::AcquireResponse> Acquire(const v1::AcquireRequest& r) = 0;
  virtual absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& r) = 0;
  virtual absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& r) = 0;

  // A checkpoint's bytes, up from the worker and down again (the client splits and joins
  // the chunks). `header` carries the epoch's progress (its heartbeat). UNIMPLEMENTED
  // where a master (or a test's fake) keeps no checkpoints.
  virtual absl::StatusOr<v1::SaveCheckpointResponse> SaveCheckpoint(
      const v1::CheckpointChunk& header, const std::string& data);
  // The checkpoint and its epoch.
  struct Checkpoint {
    int epoch = 0;
    std::string data;
  };
  virtual absl::StatusOr<Checkpoint> GetCheckpoint(const v1::GetCheckpointRequest& r);
};

// The size of a checkpoint's chunks on the wire.
inline constexpr size_t kCheckpointChunkBytes = 1 << 20;

// Wraps a client so that every call the master answers touches `path`: a container's
// health check reads its age (a worker that has not reached its master for a minute is
// unhealthy).
std::unique_ptr<MasterClient> WithHealthFile(std::unique_ptr<MasterClient> inner, std::string path);

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_DAEMON_MASTER_CLIENT_H_
