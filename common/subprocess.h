// Child processes for the commands that run a master and workers on this machine
// (`deepevolve local`, the benchmarks): started with posix_spawn, output appended to a
// log file, stopped with SIGTERM and, past a grace period, SIGKILL.
#ifndef DEEPEVOLVE_COMMON_SUBPROCESS_H_
#define DEEPEVOLVE_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace deepevolve {

class Subprocess {
 public:
  // Starts argv[0] (a path) with stdout and stderr appended to `log_path`.
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv,
                                          const std::string& log_path);

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
  int Stop(absl::Duration grace = absl::Seconds(10));
  // "exited with code 2", "killed by signal 9".
  static std::string DescribeExit(int wait_status);
  // The last `bytes` of the log, for error messages.
  std::string LogTail(size_t bytes = 2000) const;

 private:
  Subprocess(pid_t pid, std::string name, std::string log_path)
      : pid_(pid), name_(std::move(name)), log_path_(std::move(log_path)) {}

  pid_t pid_ = -1;
  std::string name_;
  std::string log_path_;
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
