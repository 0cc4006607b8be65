// libFuzzer target: raw bytes to the master's HTTP port (cpp-httplib's request parser,
// the pre-routing checks, every route and the dashboard's static files), over a real
// loopback connection to a real master. The connection is half-closed after the
// bytes, so that an incomplete request ends at once instead of at the read timeout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "master/service/auth.h"
#include "master/service/http.h"
#include "master/service/metrics.h"
#include "tests/fuzz/fuzz_master.h"

namespace {

struct Port {
  deepevolve::fuzz::FuzzMaster master;
  deepevolve::master::Authorizer auth{"fuzz-token", false};
  deepevolve::master::RpcMetrics metrics;
  deepevolve::master::HttpFrontend http{&master.master(),
                                        &auth,
                                        &metrics,
                                        "",
                                        "",
                                        deepevolve::master::HttpFrontend::FindDashboardDir()};
  int port = 0;
  Port() {
    auto bound = http.Start("127.0.0.1", 0);
    if (!bound.ok()) std::abort();
    port = *bound;
    (void)master.Lease();  // a search with trials to show
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Port* port = new Port;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port->port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    for (size_t sent = 0; sent < size;) {
      const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    shutdown(fd, SHUT_WR);
    char buffer[65536];
    while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
    }
  }
  close(fd);
  return 0;
}
