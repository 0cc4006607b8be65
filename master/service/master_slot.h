// The master the gRPC services answer for, set once it has recovered.
#ifndef DEEPEVOLVE_MASTER_SERVICE_MASTER_SLOT_H_
#define DEEPEVOLVE_MASTER_SERVICE_MASTER_SLOT_H_

#include <atomic>

#include "master/scheduler/master.h"

namespace deepevolve::master {

// The master the services answer for, set once it has recovered: until then every call
// is UNAVAILABLE saying so (clients and workers retry UNAVAILABLE), while gRPC's health
// service says NOT_SERVING.
class MasterSlot {
 public:
  MasterSlot() = default;
  explicit MasterSlot(Master* master) : master_(master) {}
  void Set(Master* master) { master_.store(master); }
  Master* Get() const { return master_.load(); }

 private:
  std::atomic<Master*> master_{nullptr};
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SERVICE_MASTER_SLOT_H_
