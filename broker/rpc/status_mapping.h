// Engine Status <-> grpc::Status, one to one. Shared by the server adapter and the gRPC client
// transport so both sides agree. kNoResponders travels as UNAVAILABLE with a message starting
// "no_responders: ", which FromGrpc turns back into kNoResponders.
#pragma once

#include <grpcpp/support/status.h>

#include "broker/status.h"

namespace broker::rpc {

grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status);
grpc::StatusCode ToGrpcCode(StatusCode code);
StatusCode FromGrpcCode(grpc::StatusCode code);

}  // namespace broker::rpc
