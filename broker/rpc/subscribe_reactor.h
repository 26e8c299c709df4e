// SubscribeReactor: one Subscribe stream (broker.v1.BrokerService/Subscribe). Client messages
// are read by gRPC and handed to a strand on the Executor, where the engine calls (Subscribe,
// Poll, Ack, ...) run in order and may block; responses go out through an OrderedWriter.
// Deliveries are sent only against credits the client granted, and the engine's max_in_flight
// bounds them again; nothing is buffered beyond that.
//
// Lifetime: gRPC owns the reactor until OnDone; tasks on the strand hold a shared_ptr to the
// Session, which outlives the reactor and stops touching it once OnDone ran.
#pragma once

#include <grpcpp/grpcpp.h>

#include "broker/v1/broker.grpc.pb.h"
#include "broker/broker.h"
#include "rpc/auth.h"
#include "rpc/executor.h"
#include "rpc/pending_requests.h"

namespace broker::rpc {

grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* NewSubscribeReactor(
    grpc::CallbackServerContext* context, Broker& broker, Executor& executor,
    const Authorizer& auth, const PendingRequests& pending);

}  // namespace broker::rpc
