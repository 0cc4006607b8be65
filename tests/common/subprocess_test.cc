// Child processes as `deepevolve local` runs them: their log, their exit, their stop.
#include "common/subprocess.h"

#include <sys/wait.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve {
namespace {

// Audit F23: the end of a log is read, not the whole log, and it is the end.
TEST(SubprocessTest, TheLogsTailIsItsLastBytes) {
  testing::TempDir dir;
  const std::string log = dir.File("child.log");
  {
    std::ofstream out(log, std::ios::binary);
    for (int i = 0; i < 100000; ++i) out << "line " << i << "\n";
  }
  auto child = Subprocess::Start({"/bin/sh", "-c", "echo the last line"}, log);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(child->Wait(absl::Seconds(30)).has_value());
  const std::string tail = child->LogTail(30);
  EXPECT_EQ(tail.size(), 30u);
  EXPECT_EQ(tail.substr(tail.size() - 14), "the last line\n");
  EXPECT_EQ(Subprocess(std::move(*child)).LogTail(1 << 30).size(),
            static_cast<size_t>(std::ifstream(log, std::ios::ate | std::ios::binary).tellg()));
}

TEST(SubprocessTest, StopEndsAChildThatIgnoresSigterm) {
  testing::TempDir dir;
  const std::string ready = dir.File("ready");
  auto child = Subprocess::Start(
      {"/bin/sh", "-c", "trap '' TERM; echo 1 > " + ready + "; while :; do sleep 1; done"},
      dir.File("child.log"));
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(WaitForLine(ready, *child, absl::Seconds(30)).ok());  // its trap is set
  const int status = child->Stop(absl::Milliseconds(200));
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

}  // namespace
}  // namespace deepevolve
