#include "common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace deepevolve {

namespace fs = std::filesystem;

absl::StatusOr<Subprocess> Subprocess::Start(const std::vector<std::string>& argv,
                                             const std::string& log_path) {
  SpawnOptions options;
  options.log_path = log_path;
  return Spawn(argv, options);
}

absl::StatusOr<Subprocess> Subprocess::Spawn(const std::vector<std::string>& argv,
                                             const SpawnOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!options.log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, options.log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  for (const auto& [child_fd, fd] : options.fds) {
    posix_spawn_file_actions_adddup2(&actions, fd, child_fd);
  }
  if (!options.dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.dir.c_str());
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  if (options.own_group) {
    posix_spawnattr_setflags(
        &attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t none, defaults;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    sigemptyset(&defaults);
    for (int signal : {SIGPIPE, SIGTERM, SIGINT}) sigaddset(&defaults, signal);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  if (options.env.has_value()) {
    for (const std::string& e : *options.env) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
  }
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, &attributes, args.data(),
                             options.env.has_value() ? env.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot start ", argv[0],
                                                      options.dir.empty() ? "" : " in ",
                                                      options.dir, ": ", std::strerror(rc)));
  }
  return Subprocess(pid, fs::path(argv[0]).filename().string(), options.log_path,
                    options.own_group);
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(other.pid_),
      name_(std::move(other.name_)),
      log_path_(std::move(other.log_path_)),
      own_group_(other.own_group_),
      exit_status_(other.exit_status_) {
  other.pid_ = -1;
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !exit_status_) Stop();
    pid_ = other.pid_;
    name_ = std::move(other.name_);
    log_path_ = std::move(other.log_path_);
    own_group_ = other.own_group_;
    exit_status_ = other.exit_status_;
    other.pid_ = -1;
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exit_status_) Stop();
}

std::optional<int> Subprocess::Poll() {
  if (exit_status_ || pid_ <= 0) return exit_status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) exit_status_ = status;
  return exit_status_;
}

std::optional<int> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!Poll() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  return exit_status_;
}

int Subprocess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return 0;
  if (!Poll()) {
    kill(target(), SIGTERM);
    if (!Wait(grace)) {
      kill(target(), SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      exit_status_ = status;
    }
  }
  // What a group's leader started and left behind (data loader processes) goes with it.
  if (own_group_) kill(-pid_, SIGKILL);
  return *exit_status_;
}

std::string Subprocess::DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(wait_status), " (",
                        strsignal(WTERMSIG(wait_status)), ")");
  }
  return absl::StrCat("ended with wait status ", wait_status);
}

std::string Subprocess::LogTail(size_t bytes) const {
  // Only the end is read: a worker's log of a long search is large.
  std::ifstream in(log_path_, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff from =
      std::max<std::streamoff>(0, size - static_cast<std::streamoff>(bytes));
  in.seekg(from);
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

absl::StatusOr<std::string> FindProgram(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<std::string> looked;
  if (!ec) {
    const fs::path dir = self.parent_path();
    for (const fs::path& candidate :
         {dir / name, dir.parent_path() / "master" / name, dir.parent_path() / "worker" / name}) {
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
      looked.push_back(candidate.string());
    }
  }
  return absl::NotFoundError(absl::StrCat("cannot find the program ", name, " (looked for ",
                                          absl::StrJoin(looked, ", "), ")"));
}

absl::StatusOr<std::string> WaitForLine(const std::string& path, Subprocess& child,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !in.eof()) return line;
    if (std::optional<int> status = child.Poll()) {
      return absl::UnavailableError(absl::StrCat(
          child.name(), " ", Subprocess::DescribeExit(*status), " before it was ready; its log (",
          child.log_path(), ") ends:\n", child.LogTail()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(child.name(), " was not ready after ", absl::FormatDuration(timeout),
                       "; its log (", child.log_path(), ") ends:\n", child.LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace deepevolve
