#include "worker/daemon/host_slots.h"

#include <fstream>
#include <memory>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::worker {
namespace {

// Each HostSlots holds its own open file, so the locks of several in one process
// exclude each other as those of several processes do.
TEST(HostSlotsTest, WorkersTakeTheLowestFreeSlotAndCountEachOther) {
  ::deepevolve::testing::TempDir dir;
  auto a = std::make_unique<HostSlots>(dir.path() / "slots");
  HostSlots b(dir.path() / "slots");
  EXPECT_EQ(a->slot(), 0);
  EXPECT_EQ(b.slot(), 1);
  EXPECT_EQ(a->Live(), 2);
  EXPECT_EQ(b.Live(), 2);
  a.reset();  // its worker exits: the slot is free again
  EXPECT_EQ(b.Live(), 1);
  HostSlots c(dir.path() / "slots");
  EXPECT_EQ(c.slot(), 0);
  EXPECT_EQ(c.Live(), 2);
}

TEST(HostSlotsTest, AnUnusableDirectoryGivesNoSlotAndCountsOneWorker) {
  ::deepevolve::testing::TempDir dir;
  const std::string file = dir.File("not-a-directory");
  { std::ofstream(file) << "x"; }
  HostSlots slots(file);
  EXPECT_EQ(slots.slot(), -1);
  EXPECT_EQ(slots.Live(), 1);
}

}  // namespace
}  // namespace deepevolve::worker
