// Request and response bodies of the group APIs (FindCoordinator, JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups) for the versions kSupportedApis
// advertises, with their decoders and encoders. Field layouts follow Apache Kafka's JSON message
// definitions; none of these versions is flexible. Also the consumer protocol's subscription
// (the metadata a "consumer" member sends in JoinGroup), of which only the topics are read.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kafka/wire.h"

namespace broker::kafka {

struct FindCoordinatorRequest {
  std::string key;
  int8_t key_type = 0;  // 0 group, 1 transaction (v1+)
};

struct JoinGroupRequest {
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;  // v1+
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v5+
  std::string protocol_type;
  std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata
};

struct SyncGroupRequest {
  std::string group_id;
  int32_t generation_id = 0;
  std::string member_id;
  std::optional<std::string> group_instance_id;                  // v3+
  std::vector<std::pair<std::string, std::string>> assignments;  // member id, assignment
};

struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = 0;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
};

struct LeaveGroupRequest {
  std::string group_id;
  std::vector<std::string> member_ids;  // v0-2: one; v3: a batch
};

struct OffsetCommitRequest {
  struct Partition {
    int32_t index = 0;
    int64_t offset = 0;
    std::optional<std::string> metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::vector<Topic> topics;
};

struct OffsetFetchRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  std::string group_id;
  std::optional<std::vector<Topic>> topics;  // nullopt (v2+): every topic the group committed
};

struct DescribeGroupsRequest {
  std::vector<std::string> groups;
};

bool DecodeFindCoordinatorRequest(Reader& in, int16_t version, FindCoordinatorRequest& out);
bool DecodeJoinGroupRequest(Reader& in, int16_t version, JoinGroupRequest& out);
bool DecodeSyncGroupRequest(Reader& in, int16_t version, SyncGroupRequest& out);
bool DecodeHeartbeatRequest(Reader& in, int16_t version, HeartbeatRequest& out);
bool DecodeLeaveGroupRequest(Reader& in, int16_t version, LeaveGroupRequest& out);
bool DecodeOffsetCommitRequest(Reader& in, int16_t version, OffsetCommitRequest& out);
bool DecodeOffsetFetchRequest(Reader& in, int16_t version, OffsetFetchRequest& out);
bool DecodeDescribeGroupsRequest(Reader& in, int16_t version, DescribeGroupsRequest& out);

// The topics of a consumer-protocol subscription (ConsumerProtocolSubscription, any version);
// nullopt if it does not parse.
std::optional<std::vector<std::string>> DecodeSubscriptionTopics(std::string_view metadata);

struct FindCoordinatorResponse {
  int16_t error = 0;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

struct JoinGroupResponse {
  int16_t error = 0;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<std::pair<std::string, std::string>> members;  // member id, metadata
};

struct LeaveGroupResponse {
  int16_t error = 0;
  std::vector<std::pair<std::string, int16_t>> members;  // v3: member id, error
};

struct OffsetCommitResponse {
  struct Topic {
    std::string name;
    std::vector<std::pair<int32_t, int16_t>> partitions;  // index, error
  };
  std::vector<Topic> topics;
};

struct OffsetFetchResponse {
  struct Partition {
    int32_t index = 0;
    int64_t offset = -1;
    std::optional<std::string> metadata;
    int16_t error = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int16_t error = 0;  // v2+
};

struct DescribeGroupsResponse {
  struct Member {
    std::string member_id;
    std::string client_id;
    std::string client_host;
    std::string metadata;
    std::string assignment;
  };
  struct Group {
    int16_t error = 0;
    std::string group_id;
    std::string state;
    std::string protocol_type;
    std::string protocol;
    std::vector<Member> members;
  };
  std::vector<Group> groups;
};

std::string EncodeFindCoordinatorResponse(int32_t correlation_id, int16_t version,
                                          const FindCoordinatorResponse& r);
std::string EncodeJoinGroupResponse(int32_t correlation_id, int16_t version,
                                    const JoinGroupResponse& r);
std::string EncodeSyncGroupResponse(int32_t correlation_id, int16_t version, int16_t error,
                                    std::string_view assignment);
std::string EncodeHeartbeatResponse(int32_t correlation_id, int16_t version, int16_t error);
std::string EncodeLeaveGroupResponse(int32_t correlation_id, int16_t version,
                                     const LeaveGroupResponse& r);
std::string EncodeOffsetCommitResponse(int32_t correlation_id, int16_t version,
                                       const OffsetCommitResponse& r);
std::string EncodeOffsetFetchResponse(int32_t correlation_id, int16_t version,
                                      const OffsetFetchResponse& r);
std::string EncodeDescribeGroupsResponse(int32_t correlation_id, int16_t version,
                                         const DescribeGroupsResponse& r);

}  // namespace broker::kafka
