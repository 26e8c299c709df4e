// Decoders and encoders of group_messages.h.
#include "kafka/codec_util.h"
#include "kafka/group_messages.h"

namespace broker::kafka {
using codec::Begin;
using codec::Done;
using codec::Finish;
using codec::ReadArray;
using codec::WriteArray;

namespace {

// BYTES that may not be null.
std::string Bytes(Reader& in) {
  std::optional<std::string_view> b = in.NullableBytes();
  if (!b) in.Fail();
  return std::string(b.value_or(std::string_view()));
}

}  // namespace

bool DecodeFindCoordinatorRequest(Reader& in, int16_t version, FindCoordinatorRequest& out) {
  out.key = in.String();
  if (version >= 1) out.key_type = in.Int8();
  return Done(in);
}

bool DecodeJoinGroupRequest(Reader& in, int16_t version, JoinGroupRequest& out) {
  out.group_id = in.String();
  out.session_timeout_ms = in.Int32();
  if (version >= 1) out.rebalance_timeout_ms = in.Int32();
  out.member_id = in.String();
  if (version >= 5) out.group_instance_id = in.NullableString();
  out.protocol_type = in.String();
  ReadArray(in, 6, out.protocols, [&in](std::pair<std::string, std::string>& p) {
    p.first = in.String();
    p.second = Bytes(in);
  });
  return Done(in);
}

bool DecodeSyncGroupRequest(Reader& in, int16_t version, SyncGroupRequest& out) {
  out.group_id = in.String();
  out.generation_id = in.Int32();
  out.member_id = in.String();
  if (version >= 3) out.group_instance_id = in.NullableString();
  ReadArray(in, 6, out.assignments, [&in](std::pair<std::string, std::string>& a) {
    a.first = in.String();
    a.second = Bytes(in);
  });
  return Done(in);
}

bool DecodeHeartbeatRequest(Reader& in, int16_t version, HeartbeatRequest& out) {
  out.group_id = in.String();
  out.generation_id = in.Int32();
  out.member_id = in.String();
  if (version >= 3) out.group_instance_id = in.NullableString();
  return Done(in);
}

bool DecodeLeaveGroupRequest(Reader& in, int16_t version, LeaveGroupRequest& out) {
  out.group_id = in.String();
  if (version >= 3) {
    ReadArray(in, 4, out.member_ids, [&in](std::string& id) {
      id = in.String();
      in.NullableString();  // GroupInstanceId: static membership is not supported
    });
  } else {
    out.member_ids.push_back(in.String());
  }
  return Done(in);
}

bool DecodeOffsetCommitRequest(Reader& in, int16_t version, OffsetCommitRequest& out) {
  out.group_id = in.String();
  out.generation_id = in.Int32();
  out.member_id = in.String();
  if (version >= 7) in.NullableString();  // GroupInstanceId
  if (version <= 4) in.Int64();           // RetentionTimeMs: offsets are kept with the group
  ReadArray(in, 6, out.topics, [&](OffsetCommitRequest::Topic& t) {
    t.name = in.String();
    ReadArray(in, 14, t.partitions, [&](OffsetCommitRequest::Partition& p) {
      p.index = in.Int32();
      p.offset = in.Int64();
      if (version >= 6) in.Int32();  // CommittedLeaderEpoch
      p.metadata = in.NullableString();
    });
  });
  return Done(in);
}

bool DecodeOffsetFetchRequest(Reader& in, int16_t version, OffsetFetchRequest& out) {
  out.group_id = in.String();
  bool null = false;
  const int32_t n = in.ArrayLength(6, &null);
  if (null && version < 2) in.Fail();
  if (!null) {
    out.topics.emplace(static_cast<size_t>(n));
    for (OffsetFetchRequest::Topic& t : *out.topics) {
      if (in.failed()) break;
      t.name = in.String();
      ReadArray(in, 4, t.partitions, [&in](int32_t& p) { p = in.Int32(); });
    }
  }
  return Done(in);
}

bool DecodeDescribeGroupsRequest(Reader& in, int16_t version, DescribeGroupsRequest& out) {
  ReadArray(in, 2, out.groups, [&in](std::string& g) { g = in.String(); });
  if (version >= 3) in.Bool();  // IncludeAuthorizedOperations: answered as "not provided"
  return Done(in);
}

std::optional<std::vector<std::string>> DecodeSubscriptionTopics(std::string_view metadata) {
  Reader in(metadata);
  in.Int16();  // Version; later versions only add fields after the topics
  std::vector<std::string> topics;
  ReadArray(in, 2, topics, [&in](std::string& t) { t = in.String(); });
  if (in.failed()) return std::nullopt;
  return topics;
}

std::string EncodeFindCoordinatorResponse(int32_t correlation_id, int16_t version,
                                          const FindCoordinatorResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 1) w.Int32(0);  // ThrottleTimeMs
  w.Int16(r.error);
  if (version >= 1) w.NullableString(std::nullopt);  // ErrorMessage
  w.Int32(r.node_id);
  w.String(r.host);
  w.Int32(r.port);
  return Finish(w);
}

std::string EncodeJoinGroupResponse(int32_t correlation_id, int16_t version,
                                    const JoinGroupResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 2) w.Int32(0);  // ThrottleTimeMs
  w.Int16(r.error);
  w.Int32(r.generation_id);
  w.String(r.protocol_name);
  w.String(r.leader);
  w.String(r.member_id);
  WriteArray(w, r.members, [&](const std::pair<std::string, std::string>& m) {
    w.String(m.first);
    if (version >= 5) w.NullableString(std::nullopt);  // GroupInstanceId
    w.NullableBytes(std::string_view(m.second));
  });
  return Finish(w);
}

std::string EncodeSyncGroupResponse(int32_t correlation_id, int16_t version, int16_t error,
                                    std::string_view assignment) {
  Writer w = Begin(correlation_id);
  if (version >= 1) w.Int32(0);  // ThrottleTimeMs
  w.Int16(error);
  w.NullableBytes(assignment);
  return Finish(w);
}

std::string EncodeHeartbeatResponse(int32_t correlation_id, int16_t version, int16_t error) {
  Writer w = Begin(correlation_id);
  if (version >= 1) w.Int32(0);  // ThrottleTimeMs
  w.Int16(error);
  return Finish(w);
}

std::string EncodeLeaveGroupResponse(int32_t correlation_id, int16_t version,
                                     const LeaveGroupResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 1) w.Int32(0);  // ThrottleTimeMs
  w.Int16(r.error);
  if (version >= 3) {
    WriteArray(w, r.members, [&](const std::pair<std::string, int16_t>& m) {
      w.String(m.first);
      w.NullableString(std::nullopt);  // GroupInstanceId
      w.Int16(m.second);
    });
  }
  return Finish(w);
}

std::string EncodeOffsetCommitResponse(int32_t correlation_id, int16_t version,
                                       const OffsetCommitResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 3) w.Int32(0);  // ThrottleTimeMs
  WriteArray(w, r.topics, [&](const OffsetCommitResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const std::pair<int32_t, int16_t>& p) {
      w.Int32(p.first);
      w.Int16(p.second);
    });
  });
  return Finish(w);
}

std::string EncodeOffsetFetchResponse(int32_t correlation_id, int16_t version,
                                      const OffsetFetchResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 3) w.Int32(0);  // ThrottleTimeMs
  WriteArray(w, r.topics, [&](const OffsetFetchResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const OffsetFetchResponse::Partition& p) {
      w.Int32(p.index);
      w.Int64(p.offset);
      if (version >= 5) w.Int32(-1);  // CommittedLeaderEpoch
      w.NullableString(p.metadata);
      w.Int16(p.error);
    });
  });
  if (version >= 2) w.Int16(r.error);
  return Finish(w);
}

std::string EncodeDescribeGroupsResponse(int32_t correlation_id, int16_t version,
                                         const DescribeGroupsResponse& r) {
  Writer w = Begin(correlation_id);
  if (version >= 1) w.Int32(0);  // ThrottleTimeMs
  WriteArray(w, r.groups, [&](const DescribeGroupsResponse::Group& g) {
    w.Int16(g.error);
    w.String(g.group_id);
    w.String(g.state);
    w.String(g.protocol_type);
    w.String(g.protocol);
    WriteArray(w, g.members, [&](const DescribeGroupsResponse::Member& m) {
      w.String(m.member_id);
      if (version >= 4) w.NullableString(std::nullopt);  // GroupInstanceId
      w.String(m.client_id);
      w.String(m.client_host);
      w.NullableBytes(std::string_view(m.metadata));
      w.NullableBytes(std::string_view(m.assignment));
    });
    if (version >= 3) w.Int32(INT32_MIN);  // AuthorizedOperations: not provided
  });
  return Finish(w);
}

}  // namespace broker::kafka
