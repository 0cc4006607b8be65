// The gRPC face of the master: SearchService and WorkerService over master::Master.
// Converting messages and statuses is all they do.
#ifndef DEEPEVOLVE_MASTER_SERVICE_SERVICE_H_
#define DEEPEVOLVE_MASTER_SERVICE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "deepevolve/v1/service.grpc.pb.h"
#include "master/scheduler/master.h"
#include "master/service/auth.h"
#include "master/service/master_slot.h"
#include "master/service/metrics.h"

namespace deepevolve::master {

// The one place where absl::Status becomes grpc::Status.
grpc::Status ToGrpc(const absl::Status& status);

class SearchServiceImpl final : public v1::SearchService::Service {
 public:
  // `auth` may be null (no checks), and `metrics` (no timing).
  SearchServiceImpl(Master* master, const Authorizer* auth, RpcMetrics* metrics = nullptr)
      : own_(master), slot_(&own_), auth_(auth), metrics_(metrics) {}
  // Answers for the master `slot` holds, once it holds one.
  SearchServiceImpl(const MasterSlot* slot, const Authorizer* auth, RpcMetrics* metrics)
      : slot_(slot), auth_(auth), metrics_(metrics) {}
  grpc::Status Submit(grpc::ServerContext*, const v1::SubmitRequest*, v1::SubmitResponse*) override;
  grpc::Status Get(grpc::ServerContext*, const v1::GetRequest*, v1::SearchSummary*) override;
  grpc::Status List(grpc::ServerContext*, const v1::ListRequest*, v1::ListResponse*) override;
  grpc::Status Watch(grpc::ServerContext*, const v1::WatchRequest*,
                     grpc::ServerWriter<v1::Event>*) override;
  grpc::Status Cancel(grpc::ServerContext*, const v1::CancelRequest*, v1::SearchSummary*) override;
  grpc::Status Leaderboard(grpc::ServerContext*, const v1::LeaderboardRequest*,
                           v1::LeaderboardResponse*) override;
  grpc::Status ListTrials(grpc::ServerContext*, const v1::ListTrialsRequest*,
                          v1::ListTrialsResponse*) override;
  grpc::Status GetModel(grpc::ServerContext*, const v1::GetModelRequest*, v1::Model*) override;
  grpc::Status ReadSpec(grpc::ServerContext*, const v1::ReadSpecRequest*, v1::SearchSpec*) override;
  grpc::Status ImportTrials(grpc::ServerContext*, const v1::ImportTrialsRequest*,
                            v1::ImportTrialsResponse*) override;

 private:
  MasterSlot own_;
  const MasterSlot* slot_;
  const Authorizer* auth_;
  RpcMetrics* metrics_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  WorkerServiceImpl(Master* master, const Authorizer* auth, RpcMetrics* metrics = nullptr)
      : own_(master), slot_(&own_), auth_(auth), metrics_(metrics) {}
  WorkerServiceImpl(const MasterSlot* slot, const Authorizer* auth, RpcMetrics* metrics)
      : slot_(slot), auth_(auth), metrics_(metrics) {}
  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest*,
                        v1::RegisterResponse*) override;
  grpc::Status Acquire(grpc::ServerContext*, const v1::AcquireRequest*,
                       v1::AcquireResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse*) override;
  grpc::Status Report(grpc::ServerContext*, const v1::ReportRequest*, v1::ReportResponse*) override;
  // Joins the chunks (size-capped by the master's --max-checkpoint-mb as they come),
  // then hands the checkpoint to the master.
  grpc::Status SaveCheckpoint(grpc::ServerContext*, grpc::ServerReader<v1::CheckpointChunk>*,
                              v1::SaveCheckpointResponse*) override;
  grpc::Status GetCheckpoint(grpc::ServerContext*, const v1::GetCheckpointRequest*,
                             grpc::ServerWriter<v1::CheckpointChunk>*) override;

 private:
  // Who may call: a worker whose certificate names `worker_id` (see Authorizer), counted
  // in the metrics when it names another.
  grpc::Status Admit(const grpc::ServerContext* context, const std::string& worker_id);

  MasterSlot own_;
  const MasterSlot* slot_;
  const Authorizer* auth_;
  RpcMetrics* metrics_;
};

// Message size limits (service.proto).
inline constexpr int kMaxRequestBytes = 256 << 20;

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SERVICE_SERVICE_H_
