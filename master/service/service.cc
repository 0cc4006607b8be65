#include "master/service/service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "master/ga/spec_file.h"

namespace deepevolve::master {
namespace {

// Sets `*out` from a StatusOr, or returns its error.
template <typename T, typename Out>
grpc::Status Answer(absl::StatusOr<T> result, Out* out) {
  if (!result.ok()) return ToGrpc(result.status());
  *out = std::move(*result);
  return grpc::Status::OK;
}

// Runs one of the authorizer's checks, when there is an authorizer.
grpc::Status Check(const Authorizer* auth,
                   grpc::Status (Authorizer::*check)(const grpc::ServerContext*) const,
                   const grpc::ServerContext* context) {
  return auth == nullptr ? grpc::Status::OK : (auth->*check)(context);
}

}  // namespace

namespace {

grpc::Status Recovering() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the master is recovering its searches from its database; retry shortly");
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status SearchServiceImpl::Submit(grpc::ServerContext* context,
                                       const v1::SubmitRequest* request,
                                       v1::SubmitResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kSubmit);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  absl::StatusOr<v1::SearchSummary> summary = master->Submit(request->spec());
  if (!summary.ok()) return ToGrpc(summary.status());
  response->set_search_id(summary->search_id());
  *response->mutable_search() = std::move(*summary);
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::Get(grpc::ServerContext* context, const v1::GetRequest* request,
                                    v1::SearchSummary* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kGet);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->Get(request->search_id()), response);
}

grpc::Status SearchServiceImpl::List(grpc::ServerContext* context, const v1::ListRequest* request,
                                     v1::ListResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kList);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->List(*request), response);
}

grpc::Status SearchServiceImpl::Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                                      grpc::ServerWriter<v1::Event>* writer) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kWatch);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  int64_t after = request->after_sequence();
  for (;;) {
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    bool finished = false;
    absl::StatusOr<std::vector<v1::Event>> events =
        master->WaitEvents(request->search_id(), after, absl::Seconds(1), &finished);
    if (!events.ok()) return ToGrpc(events.status());
    for (const v1::Event& e : *events) {
      if (!writer->Write(e)) return grpc::Status::CANCELLED;
      after = e.sequence();
    }
    if (finished) return grpc::Status::OK;
  }
}

grpc::Status SearchServiceImpl::Cancel(grpc::ServerContext* context,
                                       const v1::CancelRequest* request,
                                       v1::SearchSummary* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kCancel);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->Cancel(request->search_id()), response);
}

grpc::Status SearchServiceImpl::Leaderboard(grpc::ServerContext* context,
                                            const v1::LeaderboardRequest* request,
                                            v1::LeaderboardResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kLeaderboard);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->Leaderboard(*request), response);
}

grpc::Status SearchServiceImpl::ListTrials(grpc::ServerContext* context,
                                           const v1::ListTrialsRequest* request,
                                           v1::ListTrialsResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kListTrials);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->ListTrials(*request), response);
}

grpc::Status SearchServiceImpl::GetModel(grpc::ServerContext* context,
                                         const v1::GetModelRequest* request, v1::Model* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kGetModel);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->GetModel(request->search_id(), request->genome_id()), response);
}

grpc::Status SearchServiceImpl::ReadSpec(grpc::ServerContext* context,
                                         const v1::ReadSpecRequest* request,
                                         v1::SearchSpec* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kReadSpec);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  constexpr size_t kMaxSpecText = 1 << 20;
  if (request->text().size() > kMaxSpecText) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("text: a spec of ", request->text().size(), " bytes; at most ", kMaxSpecText));
  }
  std::string source = request->source().empty() ? "spec" : request->source();
  if (source.size() > 256) source.resize(256);
  return Answer(ParseSearchSpec(request->text(), source), response);
}

grpc::Status SearchServiceImpl::ImportTrials(grpc::ServerContext* context,
                                             const v1::ImportTrialsRequest* request,
                                             v1::ImportTrialsResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kImportTrials);
  if (grpc::Status s = Check(auth_, &Authorizer::CheckClient, context); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->ImportTrials(*request), response);
}

grpc::Status WorkerServiceImpl::Admit(const grpc::ServerContext* context,
                                      const std::string& worker_id) {
  if (auth_ == nullptr) return grpc::Status::OK;
  grpc::Status s = auth_->CheckWorker(context, worker_id);
  if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED && metrics_ != nullptr) {
    metrics_->CountImpersonation();
  }
  return s;
}

grpc::Status WorkerServiceImpl::Register(grpc::ServerContext* context,
                                         const v1::RegisterRequest* request,
                                         v1::RegisterResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kRegister);
  if (grpc::Status s = Admit(context, request->worker_id()); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->Register(*request), response);
}

grpc::Status WorkerServiceImpl::Acquire(grpc::ServerContext* context,
                                        const v1::AcquireRequest* request,
                                        v1::AcquireResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kAcquire);
  if (grpc::Status s = Admit(context, request->worker_id()); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  // Never hold the call past the client's own deadline.
  v1::AcquireRequest bounded = *request;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        context->deadline() - std::chrono::system_clock::now())
                        .count();
  bounded.set_wait_ms(std::min<int64_t>(request->wait_ms(), std::max<int64_t>(0, left - 200)));
  return Answer(master->Acquire(bounded), response);
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kHeartbeat);
  if (grpc::Status s = Admit(context, request->worker_id()); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->Heartbeat(*request), response);
}

grpc::Status WorkerServiceImpl::Report(grpc::ServerContext* context,
                                       const v1::ReportRequest* request,
                                       v1::ReportResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kReport);
  if (grpc::Status s = Admit(context, request->worker_id()); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  return Answer(master->Report(*request), response);
}

grpc::Status WorkerServiceImpl::SaveCheckpoint(grpc::ServerContext* context,
                                               grpc::ServerReader<v1::CheckpointChunk>* reader,
                                               v1::SaveCheckpointResponse* response) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kSaveCheckpoint);
  v1::CheckpointChunk header;
  if (!reader->Read(&header)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no checkpoint came");
  }
  if (grpc::Status s = Admit(context, header.progress().worker_id()); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  const int64_t most = master->options().max_checkpoint_bytes;
  if (!header.shared_file().empty()) {
    // Written by the worker in the shared checkpoint directory: nothing more comes.
    v1::CheckpointChunk more;
    if (!header.data().empty() || reader->Read(&more)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a checkpoint in the shared directory (shared_file) comes without data");
    }
    return Answer(master->SaveCheckpoint(header.progress(), "", header.shared_file()), response);
  }
  if (header.total_bytes() <= 0 || header.total_bytes() > most) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("a checkpoint of ", header.total_bytes(), " bytes: the master keeps 1 to ",
                     most, " (--max-checkpoint-mb)"));
  }
  // Refused before its bytes are read when the lease is not the sender's or the epoch
  // is not wanted.
  absl::StatusOr<v1::SaveCheckpointResponse> early = master->CheckpointWanted(header.progress());
  if (!early.ok()) return ToGrpc(early.status());
  if (!early->reason().empty()) {
    *response = std::move(*early);
    return grpc::Status::OK;
  }
  std::string data = std::move(*header.mutable_data());
  v1::CheckpointChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.data().size() > (size_t{1} << 20) ||
        static_cast<int64_t>(data.size() + chunk.data().size()) > header.total_bytes()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the checkpoint's chunks are larger than its total_bytes, or a chunk "
                          "over 1 MiB");
    }
    data.append(chunk.data());
  }
  if (static_cast<int64_t>(data.size()) != header.total_bytes()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("the checkpoint's chunks hold ", data.size(),
                                     " bytes, not its total_bytes ", header.total_bytes()));
  }
  return Answer(master->SaveCheckpoint(header.progress(), data), response);
}

grpc::Status WorkerServiceImpl::GetCheckpoint(grpc::ServerContext* context,
                                              const v1::GetCheckpointRequest* request,
                                              grpc::ServerWriter<v1::CheckpointChunk>* writer) {
  ScopedRpcTimer timer(metrics_, RpcMetrics::kGetCheckpoint);
  if (grpc::Status s = Admit(context, request->worker_id()); !s.ok()) return s;
  Master* master = slot_->Get();
  if (master == nullptr) return Recovering();
  absl::StatusOr<Master::Checkpoint> checkpoint = master->GetCheckpoint(*request);
  if (!checkpoint.ok()) return ToGrpc(checkpoint.status());
  const std::string& data = checkpoint->data;
  v1::CheckpointChunk chunk;
  chunk.mutable_progress()->set_epoch(checkpoint->epoch);
  chunk.set_total_bytes(static_cast<int64_t>(data.size()));
  size_t at = 0;
  do {
    const size_t n = std::min(size_t{1} << 20, data.size() - at);
    chunk.set_data(data.substr(at, n));
    at += n;
    if (!writer->Write(chunk)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the worker went away");
    }
    chunk.Clear();
  } while (at < data.size());
  return grpc::Status::OK;
}

}  // namespace deepevolve::master
