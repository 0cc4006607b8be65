#include "worker/daemon/host_slots.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace deepevolve::worker {

namespace fs = std::filesystem;

// Slots are looked for up to this many, and past the last one found for this many more.
constexpr int kMaxSlots = 1024;
constexpr int kProbeBeyond = 64;

HostSlots::HostSlots(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  for (int i = 0; i < kMaxSlots && fd_ < 0; ++i) {
    const int fd = open(Slot(i).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0) break;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      fd_ = fd;
      slot_ = i;
    } else {
      close(fd);
    }
  }
}

HostSlots::~HostSlots() {
  if (fd_ >= 0) close(fd_);
}

int HostSlots::Live() const {
  int live = 0;
  for (int i = 0; i < kMaxSlots; ++i) {
    if (i == slot_) {
      ++live;
      continue;
    }
    const int fd = open(Slot(i).c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      if (i > slot_ + kProbeBeyond) break;
      continue;
    }
    // A lock we cannot take is a live worker's.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) ++live;
    close(fd);
  }
  return std::max(live, 1);
}

fs::path HostSlots::Slot(int i) const { return dir_ / absl::StrCat("slot-", i, ".lock"); }

}  // namespace deepevolve::worker
