#include "tests/testing/fake_master_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace deepevolve::testing {
namespace {

// The queue's first answer, or `otherwise` when it is empty.
template <typename T>
absl::StatusOr<T> Next(std::deque<absl::StatusOr<T>>& answers, T otherwise) {
  if (answers.empty()) return otherwise;
  absl::StatusOr<T> answer = std::move(answers.front());
  answers.pop_front();
  return answer;
}

}  // namespace

void FakeMasterClient::QueueRegister(absl::StatusOr<v1::RegisterResponse> answer) {
  absl::MutexLock lock(&mu_);
  register_answers_.push_back(std::move(answer));
}
void FakeMasterClient::QueueAcquire(absl::StatusOr<v1::AcquireResponse> answer) {
  absl::MutexLock lock(&mu_);
  acquire_answers_.push_back(std::move(answer));
}
void FakeMasterClient::QueueHeartbeat(absl::StatusOr<v1::HeartbeatResponse> answer) {
  absl::MutexLock lock(&mu_);
  heartbeat_answers_.push_back(std::move(answer));
}
void FakeMasterClient::QueueSaveCheckpoint(absl::StatusOr<v1::SaveCheckpointResponse> answer) {
  absl::MutexLock lock(&mu_);
  save_answers_.push_back(std::move(answer));
}

void FakeMasterClient::QueueGetCheckpoint(absl::StatusOr<Checkpoint> answer) {
  absl::MutexLock lock(&mu_);
  get_answers_.push_back(std::move(answer));
}

std::vector<std::pair<v1::HeartbeatRequest, std::string>> FakeMasterClient::saved_checkpoints()
    const {
  absl::MutexLock lock(&mu_);
  return saves_;
}

std::vector<v1::GetCheckpointRequest> FakeMasterClient::checkpoint_fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

void FakeMasterClient::QueueReport(absl::StatusOr<v1::ReportResponse> answer) {
  absl::MutexLock lock(&mu_);
  report_answers_.push_back(std::move(answer));
}
void FakeMasterClient::SetWhenIdle(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  when_idle_ = std::move(hook);
}

std::vector<v1::RegisterRequest> FakeMasterClient::registers() const {
  absl::MutexLock lock(&mu_);
  return registers_;
}
std::vector<v1::AcquireRequest> FakeMasterClient::acquires() const {
  absl::MutexLock lock(&mu_);
  return acquires_;
}
std::vector<v1::HeartbeatRequest> FakeMasterClient::heartbeats() const {
  absl::MutexLock lock(&mu_);
  return heartbeats_;
}
std::vector<v1::ReportRequest> FakeMasterClient::reports() const {
  absl::MutexLock lock(&mu_);
  return reports_;
}

absl::StatusOr<v1::RegisterResponse> FakeMasterClient::Register(const v1::RegisterRequest& r) {
  absl::MutexLock lock(&mu_);
  registers_.push_back(r);
  v1::RegisterResponse ok;
  ok.set_lease_ms(600'000);
  return Next(register_answers_, ok);
}

absl::StatusOr<v1::AcquireResponse> FakeMasterClient::Acquire(const v1::AcquireRequest& r) {
  std::function<void()> idle;
  {
    absl::MutexLock lock(&mu_);
    acquires_.push_back(r);
    if (!acquire_answers_.empty()) return Next(acquire_answers_, v1::AcquireResponse());
    idle = when_idle_;
  }
  if (idle) idle();
  return v1::AcquireResponse();
}

absl::StatusOr<v1::HeartbeatResponse> FakeMasterClient::Heartbeat(const v1::HeartbeatRequest& r) {
  absl::MutexLock lock(&mu_);
  heartbeats_.push_back(r);
  return Next(heartbeat_answers_, v1::HeartbeatResponse());
}

absl::StatusOr<v1::ReportResponse> FakeMasterClient::Report(const v1::ReportRequest& r) {
  absl::MutexLock lock(&mu_);
  reports_.push_back(r);
  v1::ReportResponse accepted;
  accepted.set_accepted(true);
  return Next(report_answers_, accepted);
}

absl::StatusOr<v1::SaveCheckpointResponse> FakeMasterClient::SaveCheckpoint(
    const v1::CheckpointChunk& header, const std::string& data) {
  absl::MutexLock lock(&mu_);
  if (!header.shared_file().empty()) {
    std::ifstream in(shared_dir_ + "/" + header.shared_file(), std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    saves_.emplace_back(header.progress(), absl::StrCat("shared ", contents.str()));
  } else {
    saves_.emplace_back(header.progress(), data);
  }
  v1::SaveCheckpointResponse accepted;
  accepted.set_accepted(true);
  return Next(save_answers_, accepted);
}

absl::StatusOr<worker::MasterClient::Checkpoint> FakeMasterClient::GetCheckpoint(
    const v1::GetCheckpointRequest& r) {
  absl::MutexLock lock(&mu_);
  fetches_.push_back(r);
  if (get_answers_.empty()) return absl::NotFoundError("no checkpoint");
  absl::StatusOr<Checkpoint> answer = std::move(get_answers_.front());
  get_answers_.pop_front();
  return answer;
}

}  // namespace deepevolve::testing
