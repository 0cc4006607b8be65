// Child processes as `deepevolve local` runs them: their log, their exit, their stop.
#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

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

// How a worker runs a trainer program: its own directory, environment and descriptors,
// and a process group of its own, so that a stop ends what it started too.
TEST(SubprocessTest, AChildInItsOwnGroupTakesWhatItStartedWithItWhenStopped) {
  testing::TempDir dir;
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  SpawnOptions options;
  options.dir = dir.path().string();
  options.env = std::vector<std::string>{"GREETING=hello"};
  options.fds = {{STDOUT_FILENO, out[1]}};
  options.own_group = true;
  // The background sleep holds the pipe open: its end is seen only when it dies too.
  // Both ignore SIGTERM (set before the line is written, so a stop cannot come first):
  // only the group's SIGKILL ends them.
  auto child = Subprocess::Spawn(
      {"/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo \"$GREETING $(pwd)\"; wait"}, options);
  close(out[1]);
  ASSERT_TRUE(child.ok()) << child.status();
  std::string line;
  for (char c; line.find('\n') == std::string::npos && read(out[0], &c, 1) == 1;) line += c;
  EXPECT_EQ(line, "hello " + options.dir + "\n");
  const int status = child->Stop(absl::Milliseconds(200));
  EXPECT_TRUE(WIFSIGNALED(status));
  pollfd end = {out[0], POLLIN, 0};
  ASSERT_EQ(poll(&end, 1, 10000), 1) << "what the child started still holds the pipe";
  char c;
  EXPECT_EQ(read(out[0], &c, 1), 0);
  close(out[0]);
}

}  // namespace
}  // namespace deepevolve
