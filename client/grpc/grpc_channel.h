// Channel and per-call context setup shared by the gRPC transport's pieces.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "broker/client/grpc_transport.h"

namespace broker::client::grpc_internal {

Result<std::shared_ptr<grpc::Channel>> MakeChannel(const GrpcTransportOptions& options);
// Adds the bearer token and, if positive, a deadline.
void PrepareContext(grpc::ClientContext& context, const GrpcTransportOptions& options,
                    std::chrono::milliseconds timeout);
// "cannot reach brokerd at ADDR: ..." for UNAVAILABLE, else the mapped status.
Status CallStatus(const grpc::Status& status, const GrpcTransportOptions& options);

}  // namespace broker::client::grpc_internal
