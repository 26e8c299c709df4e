// What an outside gRPC client of brokerd sends, without our client library: a stub on a fresh
// channel and the Subscribe stream's frames, for tests of brokerd's boundary.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "broker/v1/broker.grpc.pb.h"

namespace broker::integration {

inline std::unique_ptr<v1::BrokerService::Stub> RawStub(const std::string& address) {
  return v1::BrokerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// The Start frame of a Subscribe stream; `max_in_flight` 0 leaves brokerd's default.
inline v1::SubscribeRequest StartFrame(const std::string& topic, const std::string& group,
                                       uint32_t max_in_flight = 0) {
  v1::SubscribeRequest start;
  start.mutable_start()->set_topic(topic);
  start.mutable_start()->set_group(group);
  if (max_in_flight != 0) start.mutable_start()->set_max_in_flight(max_in_flight);
  return start;
}

// A Credit frame: `messages` more (additive), or in place of the current credit (`replace`).
inline v1::SubscribeRequest CreditFrame(uint32_t messages, bool replace = false) {
  v1::SubscribeRequest frame;
  frame.mutable_credit()->set_messages(messages);
  if (replace) frame.mutable_credit()->set_replace(true);
  return frame;
}

}  // namespace broker::integration
