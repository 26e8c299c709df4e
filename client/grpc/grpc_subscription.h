// GrpcSubscription: a broker::Subscription over brokerd's Subscribe stream. Deliveries arrive
// against credits (granted as the application takes messages out with Poll, so at most
// max_in_flight wait here); settles are request/answer pairs on the same stream. If the stream
// breaks (brokerd restarted), it rejoins with the same member name by itself; deliveries of the
// lost stream are dropped (their leases went back to the group) and settles fail with
// kUnavailable. An AckAsync is held back (at most 2 ms) for the frame that follows it: the next
// Poll's credit carries the acks before it (one SettleBatch frame per poll round, answered inside
// the round's delivery frame); the rejoin thread sends acks that nothing followed.
//
// Thread safety: all methods are thread-safe. Shared::mu guards the buffer, the current stream and
// pending settles; gRPC reactor callbacks take it briefly and never block.
#pragma once

#include <memory>
#include <string>

#include "broker/v1/broker.grpc.pb.h"
#include "broker/client/grpc_transport.h"
#include "broker/client/transport.h"

namespace broker::client::grpc_internal {

Result<std::unique_ptr<Subscription>> OpenGrpcSubscription(
    std::shared_ptr<v1::BrokerService::Stub> stub, const GrpcTransportOptions& options,
    std::string_view topic, std::string_view group, const SubscribeOptions& subscribe);

// Transport::ReplyAndAck on the subscription's own stream: the reply travels in the ack's frame.
// False (and `reply`, `done` untouched) if `subscription` is not one OpenGrpcSubscription made.
bool ReplyAndAckOnStream(Subscription& subscription, std::string_view inbox, Message& reply,
                         PartitionId partition, Offset offset, uint32_t attempt,
                         Transport::ReplyAndAckCallback& done);

}  // namespace broker::client::grpc_internal
