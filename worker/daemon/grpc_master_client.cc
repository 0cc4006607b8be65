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

  absl::StatusOr<v1::SaveCheckpointResponse> SaveCheckpoint(const v1::CheckpointChunk& header,
                                                            const std::string& data) override {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + TransferTime(data.size())));
    v1::SaveCheckpointResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::CheckpointChunk>> writer =
        stub_->SaveCheckpoint(&context, &response);
    v1::CheckpointChunk chunk = header;
    chunk.set_total_bytes(static_cast<int64_t>(data.size()));
    size_t at = 0;
    do {
      const size_t n = std::min(kCheckpointChunkBytes, data.size() - at);
      chunk.set_data(data.substr(at, n));
      at += n;
      if (!writer->Write(chunk)) break;  // the master answered already: Finish says why
      chunk.Clear();
    } while (at < data.size());
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (!status.ok()) return FromGrpc(status, address_);
    return response;
  }

  absl::StatusOr<Checkpoint> GetCheckpoint(const v1::GetCheckpointRequest& r) override {
    grpc::ClientContext context;
    // Sized once the first chunk says how large it is.
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(30)));
    std::unique_ptr<grpc::ClientReader<v1::CheckpointChunk>> reader =
        stub_->GetCheckpoint(&context, r);
    Checkpoint out;
    v1::CheckpointChunk chunk;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first) {
        out.epoch = chunk.progress().epoch();
        if (chunk.total_bytes() < 0 || chunk.total_bytes() > (int64_t{4} << 30)) {
          context.TryCancel();
          return absl::DataLossError("the master's checkpoint says a size out of range");
        }
        out.data.reserve(static_cast<size_t>(chunk.total_bytes()));
        first = false;
      }
      out.data.append(chunk.data());
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) return FromGrpc(status, address_);
    if (first) return absl::DataLossError("the master sent an empty checkpoint");
    return out;
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

  // A deadline for moving `bytes`: a minute, and a second for each 10 MB more.
  static absl::Duration TransferTime(size_t bytes) {
    return absl::Seconds(60) + absl::Seconds(static_cast<double>(bytes) / 10e6);
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
