#include "worker/daemon/master_client.h"

#include <fstream>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace deepevolve::worker {

absl::StatusOr<v1::SaveCheckpointResponse> MasterClient::SaveCheckpoint(
    const v1::CheckpointChunk& /*header*/, const std::string& /*data*/) {
  return absl::UnimplementedError("this master keeps no checkpoints");
}

absl::StatusOr<MasterClient::Checkpoint> MasterClient::GetCheckpoint(
    const v1::GetCheckpointRequest& /*r*/) {
  return absl::UnimplementedError("this master keeps no checkpoints");
}

namespace {

class HealthFileClient : public MasterClient {
 public:
  HealthFileClient(std::unique_ptr<MasterClient> inner, std::string path)
      : inner_(std::move(inner)), path_(std::move(path)) {}

  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& r) override {
    return Touch(inner_->Register(r));
  }
  absl::StatusOr<v1::AcquireResponse> Acquire(const v1::AcquireRequest& r) override {
    return Touch(inner_->Acquire(r));
  }
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& r) override {
    return Touch(inner_->Heartbeat(r));
  }
  absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& r) override {
    return Touch(inner_->Report(r));
  }
  absl::StatusOr<v1::SaveCheckpointResponse> SaveCheckpoint(const v1::CheckpointChunk& header,
                                                            const std::string& data) override {
    return Touch(inner_->SaveCheckpoint(header, data));
  }
  absl::StatusOr<Checkpoint> GetCheckpoint(const v1::GetCheckpointRequest& r) override {
    return Touch(inner_->GetCheckpoint(r));
  }

 private:
  template <typename T>
  T Touch(T result) {
    if (result.ok()) {
      std::ofstream(path_, std::ios::trunc) << absl::ToUnixSeconds(absl::Now()) << "\n";
    }
    return result;
  }

  std::unique_ptr<MasterClient> inner_;
  const std::string path_;
};

}  // namespace

std::unique_ptr<MasterClient> WithHealthFile(std::unique_ptr<MasterClient> inner,
                                             std::string path) {
  return std::make_unique<HealthFileClient>(std::move(inner), std::move(path));
}

}  // namespace deepevolve::worker
