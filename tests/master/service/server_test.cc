// The master's gRPC services on a real port (127.0.0.1:0): who may call, how the
// core's statuses reach a client, and the Acquire long-poll's bound.
#include "master/service/server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "absl/synchronization/notification.h"
#include "deepevolve/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::master {
namespace {

using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kToken[] = "test-token-0123456789";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterServer::Options options;
    options.db_path = dir_.File("m.db");
    options.durability = store::Durability::kProcess;
    options.listen = "127.0.0.1:0";
    options.security.insecure = true;
    options.token = kToken;
    options.master.max_wait_ms = 50;
    auto server = MasterServer::Start(options);
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    search_ = v1::SearchService::NewStub(channel);
    workers_ = v1::WorkerService::NewStub(channel);
  }

  // A client context with a deadline, and the token unless `token` says otherwise.
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kToken) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!token.empty()) AddToken(*context, token);
    return context;
  }

  ::deepevolve::testing::TempDir dir_;
  std::unique_ptr<MasterServer> server_;
  std::unique_ptr<v1::SearchService::Stub> search_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

TEST_F(ServerTest, ClientsNeedTheToken) {
  v1::ListRequest request;
  v1::ListResponse response;
  grpc::Status missing = search_->List(Context("").get(), request, &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status wrong = search_->List(Context("not-the-token").get(), request, &response);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.error_message(), ::testing::Not(HasSubstr("not-the-token")));
  EXPECT_TRUE(search_->List(Context().get(), request, &response).ok());
}

TEST_F(ServerTest, TheCoresStatusesReachTheClientWithTheirCodeAndWords) {
  v1::GetRequest get;
  get.set_search_id(99);
  v1::SearchSummary summary;
  grpc::Status unknown = search_->Get(Context().get(), get, &summary);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(), HasSubstr("no search with id 99"));

  v1::SubmitRequest submit;
  submit.mutable_spec()->set_preset("no_such_preset");
  v1::SubmitResponse submitted;
  grpc::Status bad = search_->Submit(Context().get(), submit, &submitted);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("no_such_preset"));

  v1::AcquireRequest acquire;
  acquire.set_worker_id("never-registered");
  v1::AcquireResponse assignment;
  grpc::Status unregistered = workers_->Acquire(Context().get(), acquire, &assignment);
  EXPECT_EQ(unregistered.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(unregistered.error_message(), HasSubstr("register"));
}

TEST_F(ServerTest, AnAcquireWaitsNoLongerThanTheMastersBound) {
  v1::RegisterRequest reg;
  reg.set_worker_id("w1");
  reg.set_incarnation(1);
  v1::RegisterResponse registered;
  ASSERT_TRUE(workers_->Register(Context().get(), reg, &registered).ok());
  v1::AcquireRequest acquire;
  acquire.set_worker_id("w1");
  acquire.set_incarnation(1);
  acquire.set_wait_ms(3'600'000);  // an hour; the master holds it for max_wait_ms
  v1::AcquireResponse response;
  // Unclamped, this would end at the context's 60 s deadline, DEADLINE_EXCEEDED.
  grpc::Status status = workers_->Acquire(Context().get(), acquire, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.has_assignment());
}

// gRPC's health protocol over a generic stub: the status grpc.health.v1 gives `service`
// (HealthCheckResponse's field 1: 1 SERVING, 2 NOT_SERVING), or -1 with the call's error.
int HealthStatus(grpc::Channel* channel, const std::string& service) {
  grpc::GenericStub stub(channel->shared_from_this());
  // HealthCheckRequest { string service = 1; }
  std::string request_bytes;
  if (!service.empty()) {
    request_bytes = std::string(1, '\x0a') + static_cast<char>(service.size()) + service;
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // { 0x08, status } (proto3 leaves out 0, UNKNOWN).
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
}

// The port opens before recovery: health says NOT_SERVING and calls are UNAVAILABLE,
// naming the reason, until the master has its searches back; then SERVING. The
// plaintext health port says the same, and serves nothing else.
TEST(ServerStartTest, WhileRecoveringHealthSaysNotServingAndCallsAreUnavailable) {
  ::deepevolve::testing::TempDir dir;
  MasterServer::Options options;
  options.db_path = dir.File("m.db");
  options.durability = store::Durability::kProcess;
  options.listen = "127.0.0.1:0";
  options.health_listen = "127.0.0.1:0";
  options.security.insecure = true;
  std::shared_ptr<grpc::Channel> channel, health_channel;
  bool checked = false;
  options.while_recovering = [&](int port, int health_port) {
    channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    ASSERT_GT(health_port, 0);
    health_channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", health_port),
                                         grpc::InsecureChannelCredentials());
    EXPECT_EQ(HealthStatus(channel.get(), ""), 2);
    EXPECT_EQ(HealthStatus(channel.get(), "deepevolve.v1.WorkerService"), 2);
    EXPECT_EQ(HealthStatus(health_channel.get(), ""), 2);
    grpc::ClientContext context;
    v1::ListRequest request;
    v1::ListResponse response;
    const grpc::Status s = v1::SearchService::NewStub(channel)->List(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(s.error_message(), HasSubstr("recovering"));
    checked = true;
  };
  auto server = MasterServer::Start(options);
  ASSERT_THAT(server, IsOk());
  EXPECT_TRUE(checked);
  EXPECT_EQ(HealthStatus(channel.get(), ""), 1);
  EXPECT_EQ(HealthStatus(channel.get(), "deepevolve.v1.SearchService"), 1);
  EXPECT_EQ(HealthStatus(channel.get(), "no.such.Service"), -1);
  EXPECT_EQ(HealthStatus(health_channel.get(), ""), 1);
  EXPECT_EQ(HealthStatus(health_channel.get(), "deepevolve.v1.WorkerService"), 1);
  grpc::ClientContext context;
  v1::ListRequest request;
  v1::ListResponse response;
  EXPECT_TRUE(v1::SearchService::NewStub(channel)->List(&context, request, &response).ok());
  grpc::ClientContext health_context;
  EXPECT_EQ(v1::SearchService::NewStub(health_channel)
                ->List(&health_context, request, &response)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  (*server)->Shutdown();
  EXPECT_EQ(HealthStatus(health_channel.get(), ""), -1);
}

TEST(ServerStartTest, ABadSecuritySetUpIsRefusedBeforeTheDatabaseIsTouched) {
  ::deepevolve::testing::TempDir dir;
  MasterServer::Options options;
  options.db_path = dir.File("m.db");
  options.listen = "127.0.0.1:0";
  options.security.cert_file = dir.File("missing-cert.pem");
  options.security.key_file = dir.File("missing-key.pem");
  options.token = kToken;
  EXPECT_THAT(MasterServer::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-client-ca")));
  options.security.client_ca_file = dir.File("missing-ca.pem");
  EXPECT_THAT(MasterServer::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing-")));
  EXPECT_FALSE(std::filesystem::exists(options.db_path));

  options.security = ServerSecurity();
  options.security.insecure = true;
  options.http_listen = "no-port-here";
  EXPECT_THAT(MasterServer::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--http-listen")));
  EXPECT_FALSE(std::filesystem::exists(options.db_path));
}

}  // namespace
}  // namespace deepevolve::master
