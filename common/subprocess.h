// Child processes: the master and workers that `deepevolve local` and the benchmarks
// run on this machine (output appended to a log file), and the trainer programs a
// worker runs (pipes, a directory, an environment and a process group of their own).
// Started with posix_spawn, never fork: a worker may hold a CUDA context and many
// threads, whose fork handlers and copied mappings a child that only execs must not
// touch. Stopped with SIGTERM and, past a grace period, SIGKILL.
#ifndef DEEPEVOLVE_COMMON_SUBPROCESS_H_
#define DEEPEVOLVE_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace deepevolve {

// How a child starts, beyond its arguments.
struct SpawnOptions {
  // Its working directory; empty: the caller's.
  std::string dir;
  // Its environment ("NAME=value"); nullopt: the caller's.
  std::optional<std::vector<std::string>> env;
  // Non-empty: stdout and stderr appended to this file, stdin /dev/null.
  std::string log_path;
  // Descriptors the child gets: {the child's number, the caller's descriptor}, after
  // `log_path`'s. The caller keeps (and closes) its own.
  std::vector<std::pair<int, int>> fds;
  // A process group of its own, with no signal blocked and SIGPIPE, SIGTERM and SIGINT
  // at their defaults (a worker blocks or ignores them): Stop then signals the whole
  // group, and kills what the child left in it.
  bool own_group = false;
};

class Subprocess {
 public:
  // Starts argv[0] (a path) with stdout and stderr appended to `log_path`.
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv,
                                          const std::string& log_path);
  // Starts argv[0] (a path) as `options` say.
  static absl::StatusOr<Subprocess> Spawn(const std::vector<std::string>& argv,
                                          const SpawnOptions& options);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Stops the child if it still runs.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }
  // The wait status once the child has exited; nullopt while it runs. Never blocks.
  std::optional<int> Poll();
  // Waits up to `timeout` for the child to exit on its own: its wait status, or nullopt
  // if it still runs.
  std::optional<int> Wait(absl::Duration timeout);
  // SIGTERM, then SIGKILL if it is still running after `grace`; returns the wait status.
  // With `own_group`, to the group, and whatever is left in it gets SIGKILL.
  int Stop(absl::Duration grace = absl::Seconds(10));
  // "exited with code 2", "killed by signal 9".
  static std::string DescribeExit(int wait_status);
  // The last `bytes` of the log, for error messages.
  std::string LogTail(size_t bytes = 2000) const;

 private:
  Subprocess(pid_t pid, std::string name, std::string log_path, bool own_group)
      : pid_(pid), name_(std::move(name)), log_path_(std::move(log_path)), own_group_(own_group) {}

  // Where signals go: the child, or its group.
  pid_t target() const { return own_group_ ? -pid_ : pid_; }

  pid_t pid_ = -1;
  std::string name_;
  std::string log_path_;
  bool own_group_ = false;
  std::optional<int> exit_status_;
};

// The path of a deepevolve program: next to the running executable (an installed
// bin/ directory), or in the build tree's master/ and worker/ directories beside
// cli/. NOT_FOUND lists the places looked in.
absl::StatusOr<std::string> FindProgram(const std::string& name);

// Waits until `path` holds a complete line (a port number written by a child with
// --port-file) and returns it without the newline. Fails if `child` exits first or
// `timeout` passes, naming the child and the end of its log.
absl::StatusOr<std::string> WaitForLine(const std::string& path, Subprocess& child,
                                        absl::Duration timeout);

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_SUBPROCESS_H_
