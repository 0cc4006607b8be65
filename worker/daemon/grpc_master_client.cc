#include "worker/daemon/grpc_master_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "deepevolve/v1/service.grpc.pb.h"

namespace deepevolve::worker {
namespace {

absl::Status FromGrpc(const grpc::Status& status, const std::string& address) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = absl::StrCat("master at ", address, " is unreachable: ", message);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

class GrpcMasterClient : public MasterClient {
 public:
  GrpcMasterClient(const std::string& address,
                   std::shared_ptr<grpc::ChannelCredentials> credentials)
      : address_(address) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    args.SetMaxSendMessageSize(256 << 20);
    // Reconnect quickly after a master restart.
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stub_ = v1::WorkerService::NewStub(
        grpc::CreateCustomChannel(address, std::move(credentials), args));
  }

  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& r) override {
    return Call(&v1::WorkerService::Stub::Register, r, absl::Seconds(10));
  }
  absl::StatusOr<v1::AcquireResponse> Acquire(const v1::AcquireRequest& r) override {
    return Call(&v1::WorkerService::Stub::Acquire, r,
                absl::Milliseconds(r.wait_ms()) + absl::Seconds(5));
  }
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& r) override {
    return Call(&v1::WorkerService::Stub::Heartbeat, r, absl::Seconds(10));
  }
  absl::StatusOr<v1::ReportResponse> Report(const v1::ReportRequest& r) override {
    return Call(&v1::WorkerService::Stub::Report, r, absl::Seconds(60));
  }

 private:
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (v1::WorkerService::Stub::*method)(
                                    grpc::ClientContext*, const Request&, Response*),
                                const Request& request, absl::Duration deadline) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    Response response;
    grpc::Status status = ((*stub_).*method)(&context, request, &response);
    if (!status.ok()) return FromGrpc(status, address_);
    return response;
  }

  std::string address_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
};

}  // namespace

std::unique_ptr<MasterClient> MakeGrpcMasterClient(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  return std::make_unique<GrpcMasterClient>(address, std::move(credentials));
}

}  // namespace deepevolve::worker
