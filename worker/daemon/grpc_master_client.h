// The MasterClient over a gRPC channel: the worker's only gRPC code.
#ifndef DEEPEVOLVE_WORKER_DAEMON_GRPC_MASTER_CLIENT_H_
#define DEEPEVOLVE_WORKER_DAEMON_GRPC_MASTER_CLIENT_H_

#include <memory>
#include <string>

#include "worker/daemon/master_client.h"

namespace grpc {
class ChannelCredentials;
}  // namespace grpc

namespace deepevolve::worker {

// A client of the master at `address` (host:port) with these credentials (see
// common/grpc_security.h). UNAVAILABLE answers name the address. Deadlines: 10 s for
// Register and Heartbeat, the long poll plus 5 s for Acquire, 60 s for Report.
std::unique_ptr<MasterClient> MakeGrpcMasterClient(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> credentials);

}  // namespace deepevolve::worker

#endif  // DEEPEVOLVE_WORKER_DAEMON_GRPC_MASTER_CLIENT_H_
