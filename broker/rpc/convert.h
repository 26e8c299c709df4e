// Translation between broker.v1 protobuf messages and engine types. The only place (with
// status_mapping) where both meet; shared by the server and the gRPC client transport.
#pragma once

#include "broker/v1/admin.pb.h"
#include "broker/v1/broker.pb.h"
#include "broker/broker.h"

namespace broker::rpc {

void ToProto(const Record& in, v1::Record& out);
Record FromProto(const v1::Record& in);

void ToProto(const Headers& in, google::protobuf::RepeatedPtrField<v1::Header>& out);
Headers FromProto(const google::protobuf::RepeatedPtrField<v1::Header>& in);

void ToProto(const Message& in, v1::OutgoingMessage& out);
Message FromProto(const v1::OutgoingMessage& in);
// The same, moving the strings out of `in` (a request about to be cleared).
Message FromProto(v1::OutgoingMessage&& in);

void ToProto(const GroupConfig& in, v1::GroupConfig& out);
GroupConfig FromProto(const v1::GroupConfig& in);

void ToProto(const TopicConfig& in, v1::TopicConfig& out);
// kInvalidArgument for a retention policy number this broker does not know.
Result<TopicConfig> FromProto(const v1::TopicConfig& in);

void ToProto(const TopicInfo& in, v1::TopicInfo& out);
void ToProto(const PartitionLag& in, v1::PartitionLag& out);
void ToProto(const GroupInfo& in, v1::GroupInfo& out);
void ToProto(const MessageGroupState& in, v1::MessageGroupState& out);
void ToProto(const DeadLetter& in, v1::DeadLetter& out);
DeadLetterFilter FromProto(const v1::DeadLetterFilter& in);
void ToProto(const DeadLetterFilter& in, v1::DeadLetterFilter& out);

int64_t Micros(TimePoint t);
TimePoint FromMicros(int64_t us);

}  // namespace broker::rpc
