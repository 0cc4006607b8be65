// How workers on one host share its cores: each holds a lock on one slot file of a
// shared directory, and a trainer takes cores / (slots held) threads when its trial
// starts.
#ifndef DEEPEVOLVE_WORKER_DAEMON_HOST_SLOTS_H_
#define DEEPEVOLVE_WORKER_DAEMON_HOST_SLOTS_H_

#include <filesystem>

namespace deepevolve::worker {

// Takes the lowest free slot of `dir` (created when missing) for the object's life;
// the lock goes with the process, however it ends. Thread-compatible.
class HostSlots {
 public:
  explicit HostSlots(std::filesystem::path dir);
  ~HostSlots();
  HostSlots(const HostSlots&) = delete;
  HostSlots& operator=(const HostSlots&) = delete;

  // Workers alive on this host, this one included (at least 1).
  int Live() const;
  // This worker's slot, or -1 when the directory could not be used.
  int slot() const { return slot_; }

 private:
  std::filesystem::path Slot(int i) const;

  std::filesystem::path dir_;
  int fd_ = -1;
  int slot_ = -1;
};

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_DAEMON_HOST_SLOTS_H_
