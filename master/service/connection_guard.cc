#include "master/service/connection_guard.h"

#include <dirent.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_received (glibc's is older)
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/numbers.h"

namespace deepevolve::master {
namespace {

// The local port of socket `fd`, or -1 when it is not a connected TCP socket.
int LocalTcpPort(int fd) {
  int listening = 0, type = 0;
  socklen_t size = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_STREAM) return -1;
  size = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || listening) return -1;
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return -1;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return -1;
}

}  // namespace

ConnectionGuard::ConnectionGuard(int port, Options options) : port_(port), options_(options) {}

ConnectionGuard::~ConnectionGuard() { Stop(); }

void ConnectionGuard::Start() {
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.period)) Scan(absl::Now());
  });
}

void ConnectionGuard::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
}

int64_t ConnectionGuard::cut() const {
  absl::MutexLock lock(&mu_);
  return cut_;
}

void ConnectionGuard::Scan(absl::Time now) {
  std::vector<int> fds;
  if (DIR* dir = opendir("/proc/self/fd")) {
    const int own = dirfd(dir);
    while (const dirent* e = readdir(dir)) {
      int fd = 0;
      if (absl::SimpleAtoi(e->d_name, &fd) && fd != own) fds.push_back(fd);
    }
    closedir(dir);
  }
  absl::flat_hash_map<ino_t, Seen> open;
  absl::MutexLock lock(&mu_);
  for (int fd : fds) {
    // Looked at by number, never duplicated or closed here: closing any descriptor of a
    // file drops every POSIX lock this process holds on it, and SQLite's locks on the
    // database and its shared memory are such locks (dropping them let another process
    // rebuild the WAL index under the master: SIGBUS). A number the server closes and
    // reuses meanwhile fails the socket checks or is identified anew by its inode.
    struct stat file;
    if (fstat(fd, &file) != 0 || !S_ISSOCK(file.st_mode) || LocalTcpPort(fd) != port_) continue;
    Seen& seen = open[file.st_ino] =
        seen_.try_emplace(file.st_ino, Seen{now, 0, now, -1, false}).first->second;
    tcp_info info{};
    socklen_t size = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) continue;
    const auto acked = static_cast<int64_t>(info.tcpi_bytes_acked);
    const auto received = static_cast<int64_t>(info.tcpi_bytes_received);
    if (acked != seen.acked) {  // the server's answers moved on
      seen.acked = acked;
      seen.answered_at = now;
    }
    if (received != seen.received) {  // the client sent more
      seen.received = received;
      seen.received_at = now;
    }
    // Slow: still sending (bytes within the last quarter of max_age) while no answer
    // moved on for max_age. A client waiting for an answer the server takes long to
    // make sends nothing meanwhile, and is left alone.
    const bool slow =
        now - seen.answered_at > options_.max_age && now - seen.received_at < options_.max_age / 4;
    if (!seen.cut && (received > options_.max_bytes || slow)) {
      struct stat again;
      if (fstat(fd, &again) == 0 && again.st_ino == file.st_ino) shutdown(fd, SHUT_RDWR);
      seen.cut = true;
      ++cut_;
    }
  }
  seen_ = std::move(open);
}

}  // namespace deepevolve::master
