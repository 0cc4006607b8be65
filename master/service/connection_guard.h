// Bounds what one TCP connection to a port may cost this process: the bytes it sends
// and how long it stays open. The HTTP library (cpp-httplib 0.11, Debian's) reads a
// request line or header line until its newline however long it grows, reads any
// number of headers, and lets a client that sends a byte now and then hold a thread
// for ever; it offers no hook on its accepted sockets. The guard watches them from
// outside: every `period` it lists this process's sockets whose local port is the
// guarded one (accepted connections, not the listener), reads each one's bytes
// received from the kernel (TCP_INFO), and shuts down (SHUT_RDWR) any that received
// more than `max_bytes`, or that is still sending while no answer has moved on for
// `max_age` (a request dripped a byte at a time; a client waiting for a slow answer
// sends nothing, and one taking a large answer makes progress). The library's read then
// ends and it closes the connection. A request the port serves is a GET of a few
// kilobytes, so honest clients never come near either bound.
//
// Thread-safe; the watching thread runs from Start() to Stop() (or destruction).
#ifndef DEEPEVOLVE_MASTER_SERVICE_CONNECTION_GUARD_H_
#define DEEPEVOLVE_MASTER_SERVICE_CONNECTION_GUARD_H_

#include <sys/types.h>

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace deepevolve::master {

class ConnectionGuard {
 public:
  struct Options {
    // Bytes one connection may send in all (keep-alive requests included). Default
    // 1 MiB.
    int64_t max_bytes = int64_t{1} << 20;
    // How long one connection may go without the server's answers moving on. Default
    // 30 s.
    absl::Duration max_age = absl::Seconds(30);
    // How often the sockets are looked at. Default 10 ms.
    absl::Duration period = absl::Milliseconds(10);
  };

  ConnectionGuard(int port, Options options);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  void Start();
  void Stop();

  // Connections shut down so far (for tests and logs).
  int64_t cut() const;

  // One look at the sockets, as the thread takes every period; `now` is the time of
  // the look. Exposed for tests.
  void Scan(absl::Time now);

 private:
  const int port_;
  const Options options_;
  std::thread thread_;
  absl::Notification stop_;
  mutable absl::Mutex mu_;
  struct Seen {
    absl::Time answered_at;  // first seen, or when the server's answers last moved on
    int64_t acked;           // bytes of the server's answers the client has taken
    absl::Time received_at;  // first seen, or when the client last sent bytes
    int64_t received;        // bytes the client sent
    bool cut;                // shut down already
  };
  // Open connections by socket inode.
  absl::flat_hash_map<ino_t, Seen> seen_ ABSL_GUARDED_BY(mu_);
  int64_t cut_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SERVICE_CONNECTION_GUARD_H_
