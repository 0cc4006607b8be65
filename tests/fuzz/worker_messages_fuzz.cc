// libFuzzer target: the protobuf messages a worker sends (Report, Heartbeat, and an
// epoch's progress with a checkpoint) through the master's request checks and core. The
// first byte picks the message and whether it is made to address the worker's live
// lease (so that it gets past the lease checks); the rest is the message's wire
// encoding.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_master.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static deepevolve::fuzz::FuzzMaster* fuzz = new deepevolve::fuzz::FuzzMaster;
  if (size == 0) return 0;
  const bool report = data[0] & 1, own = data[0] & 2, checkpoint = data[0] & 4;
  const deepevolve::v1::Assignment lease = own ? fuzz->Lease() : deepevolve::v1::Assignment();
  // Addressed to the live lease, as its holder, when the first byte says so.
  auto send = [&](auto message, auto call) {
    if (!message.ParseFromArray(data + 1, static_cast<int>(size - 1))) return;
    if (own) {
      message.set_lease_id(lease.lease_id());
      message.set_worker_id("fuzz");
      message.set_incarnation(1);
    }
    (void)call(message);
  };
  if (report) {
    send(deepevolve::v1::ReportRequest(),
         [&](const deepevolve::v1::ReportRequest& r) { return fuzz->master().Report(r); });
  } else if (checkpoint) {
    // The progress a checkpoint comes with (its bytes are the trainer's, opaque here).
    send(deepevolve::v1::HeartbeatRequest(), [&](const deepevolve::v1::HeartbeatRequest& h) {
      return fuzz->master().SaveCheckpoint(h, "state");
    });
  } else {
    send(deepevolve::v1::HeartbeatRequest(),
         [&](const deepevolve::v1::HeartbeatRequest& h) { return fuzz->master().Heartbeat(h); });
  }
  return 0;
}
