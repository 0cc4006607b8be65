// A worker's heartbeat after an epoch of an assignment, for tests of the master.
#ifndef DEEPEVOLVE_TESTS_TESTING_HEARTBEATS_H_
#define DEEPEVOLVE_TESTS_TESTING_HEARTBEATS_H_

#include <cstdint>
#include <string>

#include "deepevolve/v1/service.pb.h"

namespace deepevolve::testing {

// From `worker` (`incarnation`) after `epoch` of the assignment's trial: loss 1/epoch,
// one second an epoch.
inline v1::HeartbeatRequest EpochHeartbeat(const v1::Assignment& a, const std::string& worker,
                                           int64_t incarnation, int epoch, double val_accuracy) {
  v1::HeartbeatRequest h;
  h.set_lease_id(a.lease_id());
  h.set_worker_id(worker);
  h.set_incarnation(incarnation);
  h.set_epoch(epoch);
  h.set_epochs(a.task().epochs());
  h.set_val_accuracy(val_accuracy);
  h.set_loss(1.0 / epoch);
  h.set_elapsed_seconds(epoch);
  return h;
}

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_HEARTBEATS_H_
