// The group APIs: membership goes to the GroupCoordinator, committed offsets to the OffsetStore
// (the engine's per_partition groups). A JoinGroup or SyncGroup that waits for a rebalance holds
// no worker thread: its reply is sent by whoever completes the rebalance.
#include <algorithm>

#include "kafka/group_messages.h"
#include "kafka/handler.h"

namespace broker::kafka {
namespace {

// The engine's group names, [A-Za-z0-9._-]{1,100}: a Kafka group id is the engine group's name.
bool ValidGroupName(const std::string& name) {
  if (name.empty() || name.size() > 100) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Reply Respond(std::string frame) { return {Reply::Kind::kRespond, std::move(frame)}; }

}  // namespace

Reply RequestHandler::FindCoordinator(const RequestHeader& header, Reader& in) {
  FindCoordinatorRequest request;
  if (!DecodeFindCoordinatorRequest(in, header.api_version, request)) return Reply{};
  FindCoordinatorResponse response;
  if (request.key_type == 0) {  // every group's coordinator is this node
    response.node_id = config_.node_id;
    response.host = config_.advertised_host;
    response.port = config_.advertised_port;
  } else {  // transactions are not supported
    response.error = Wire(ErrorCode::kCoordinatorNotAvailable);
  }
  return Respond(
      EncodeFindCoordinatorResponse(header.correlation_id, header.api_version, response));
}

void RequestHandler::JoinGroup(const RequestHeader& header, Reader& in, Done done) {
  JoinGroupRequest request;
  if (!DecodeJoinGroupRequest(in, header.api_version, request)) return done(Reply{});
  auto reply = [header, done](const JoinOutcome& o) {
    JoinGroupResponse r{.error = Wire(o.error),
                        .generation_id = o.generation,
                        .protocol_name = o.protocol_name,
                        .leader = o.leader,
                        .member_id = o.member_id,
                        .members = o.members};
    done(Respond(EncodeJoinGroupResponse(header.correlation_id, header.api_version, r)));
  };
  JoinOutcome refused{.error = ErrorCode::kNone,
                      .generation = -1,
                      .protocol_name = {},
                      .leader = {},
                      .member_id = request.member_id,
                      .members = {}};
  if (!ValidGroupName(request.group_id)) {
    refused.error = ErrorCode::kInvalidGroupId;
    return reply(refused);
  }
  // A native group (one the listener did not create, or one native subscribers hold) cannot take
  // Kafka members (and OffsetCommit refuses to move it).
  if (request.protocol_type == "consumer") {
    for (const auto& [name, metadata] : request.protocols) {
      for (const std::string& topic :
           DecodeSubscriptionTopics(metadata).value_or(std::vector<std::string>{})) {
        if (offsets_.IsNativeGroup(topic, request.group_id)) {
          refused.error = ErrorCode::kInconsistentGroupProtocol;
          return reply(refused);
        }
      }
    }
  }
  JoinArgs args;
  args.group = request.group_id;
  args.member_id = request.member_id;
  args.client_id = header.client_id.value_or("");
  args.session_timeout = std::chrono::milliseconds(request.session_timeout_ms);
  args.rebalance_timeout = std::chrono::milliseconds(
      header.api_version >= 1 ? request.rebalance_timeout_ms : request.session_timeout_ms);
  args.protocol_type = request.protocol_type;
  for (auto& [name, metadata] : request.protocols) {
    args.protocols.push_back({std::move(name), std::move(metadata)});
  }
  args.require_known_member = header.api_version >= 4;
  coordinator_.Join(std::move(args), reply);
}

void RequestHandler::SyncGroup(const RequestHeader& header, Reader& in, Done done) {
  SyncGroupRequest request;
  if (!DecodeSyncGroupRequest(in, header.api_version, request)) return done(Reply{});
  coordinator_.Sync(request.group_id, request.generation_id, request.member_id, request.assignments,
                    [header, done](const SyncOutcome& o) {
                      done(Respond(EncodeSyncGroupResponse(
                          header.correlation_id, header.api_version, Wire(o.error), o.assignment)));
                    });
}

Reply RequestHandler::Heartbeat(const RequestHeader& header, Reader& in) {
  HeartbeatRequest request;
  if (!DecodeHeartbeatRequest(in, header.api_version, request)) return Reply{};
  const ErrorCode error =
      coordinator_.Heartbeat(request.group_id, request.generation_id, request.member_id);
  return Respond(EncodeHeartbeatResponse(header.correlation_id, header.api_version, Wire(error)));
}

Reply RequestHandler::LeaveGroup(const RequestHeader& header, Reader& in) {
  LeaveGroupRequest request;
  if (!DecodeLeaveGroupRequest(in, header.api_version, request)) return Reply{};
  LeaveGroupResponse response;
  for (const std::string& member : request.member_ids) {
    const int16_t error = Wire(coordinator_.Leave(request.group_id, member));
    response.members.emplace_back(member, error);
    // v0-2 leave one member: its error is the response's.
    if (header.api_version < 3) response.error = error;
  }
  return Respond(EncodeLeaveGroupResponse(header.correlation_id, header.api_version, response));
}

Reply RequestHandler::OffsetCommit(const RequestHeader& header, Reader& in) {
  OffsetCommitRequest request;
  if (!DecodeOffsetCommitRequest(in, header.api_version, request)) return Reply{};
  ErrorCode group_error =
      coordinator_.ValidateCommit(request.group_id, request.generation_id, request.member_id);
  if (group_error == ErrorCode::kNone && !ValidGroupName(request.group_id)) {
    group_error = ErrorCode::kInvalidGroupId;
  }
  OffsetCommitResponse response;
  for (const OffsetCommitRequest::Topic& t : request.topics) {
    OffsetCommitResponse::Topic& out = response.topics.emplace_back();
    out.name = t.name;
    std::vector<OffsetStore::Commit> commits;
    for (const auto& p : t.partitions) commits.push_back({p.index, p.offset, p.metadata});
    std::vector<ErrorCode> errors(commits.size(), group_error);
    if (group_error == ErrorCode::kNone)
      errors = offsets_.CommitTopic(request.group_id, t.name, commits);
    for (size_t i = 0; i < commits.size(); ++i) {
      out.partitions.emplace_back(commits[i].partition, Wire(errors[i]));
    }
  }
  return Respond(EncodeOffsetCommitResponse(header.correlation_id, header.api_version, response));
}

Reply RequestHandler::OffsetFetch(const RequestHeader& header, Reader& in) {
  OffsetFetchRequest request;
  if (!DecodeOffsetFetchRequest(in, header.api_version, request)) return Reply{};
  OffsetFetchResponse response;
  if (!ValidGroupName(request.group_id)) {
    response.error = Wire(ErrorCode::kInvalidGroupId);
  }
  std::vector<OffsetFetchRequest::Topic> topics;
  if (request.topics) {
    topics = std::move(*request.topics);
  } else if (response.error == 0) {
    for (std::string& name : offsets_.Topics(request.group_id)) {
      topics.push_back({std::move(name), {}});
    }
  }
  for (const OffsetFetchRequest::Topic& t : topics) {
    OffsetFetchResponse::Topic& out = response.topics.emplace_back();
    out.name = t.name;
    if (response.error != 0) {
      for (int32_t p : t.partitions) {
        out.partitions.push_back(
            {.index = p, .offset = -1, .metadata = std::string(), .error = response.error});
      }
      continue;
    }
    for (auto& [index, committed] : offsets_.Fetch(request.group_id, t.name, t.partitions)) {
      out.partitions.push_back({.index = index,
                                .offset = committed.offset,
                                .metadata = std::move(committed.metadata),
                                .error = Wire(committed.error)});
    }
  }
  return Respond(EncodeOffsetFetchResponse(header.correlation_id, header.api_version, response));
}

Reply RequestHandler::DescribeGroups(const RequestHeader& header, Reader& in) {
  DescribeGroupsRequest request;
  if (!DecodeDescribeGroupsRequest(in, header.api_version, request)) return Reply{};
  DescribeGroupsResponse response;
  for (const std::string& group : request.groups) {
    GroupDescription d = coordinator_.Describe(group);
    DescribeGroupsResponse::Group& out = response.groups.emplace_back();
    out.group_id = group;
    out.error = ValidGroupName(group) ? 0 : Wire(ErrorCode::kInvalidGroupId);
    // A group known only by its committed offsets (none joined since brokerd started) is Empty,
    // as in Kafka; kafkajs' setOffsets and resetOffsets require that state.
    if (d.state == "Dead" && out.error == 0 && !offsets_.Topics(group).empty()) d.state = "Empty";
    out.state = d.state;
    out.protocol_type = d.protocol_type;
    out.protocol = d.protocol;
    for (GroupDescription::Member& m : d.members) {
      out.members.push_back({.member_id = std::move(m.member_id),
                             .client_id = std::move(m.client_id),
                             .client_host = std::move(m.client_host),
                             .metadata = std::move(m.metadata),
                             .assignment = std::move(m.assignment)});
    }
  }
  return Respond(EncodeDescribeGroupsResponse(header.correlation_id, header.api_version, response));
}

}  // namespace broker::kafka
