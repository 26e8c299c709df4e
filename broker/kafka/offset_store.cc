#include "kafka/offset_store.h"

namespace broker::kafka {
namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;

// An engine error creating or describing a group in Kafka's terms.
ErrorCode GroupError(const Status& status) {
  // A name the engine refuses, or whose dead-letter topic would be ambiguous or too long.
  if (status.code() == StatusCode::kInvalidArgument ||
      status.code() == StatusCode::kFailedPrecondition) {
    return ErrorCode::kInvalidGroupId;
  }
  return ToKafkaError(status, true);
}

}  // namespace

bool OffsetStore::HasNativeMembers(const std::string& topic, const std::string& group) {
  Result<GroupInfo> info = broker_.DescribeGroup(topic, group);
  return info.ok() && !info->members.empty();
}

bool OffsetStore::IsNativeGroup(const std::string& topic, const std::string& group) {
  Result<GroupInfo> info = broker_.DescribeGroup(topic, group);
  if (!info.ok()) return false;  // no such group (yet): the first commit creates it for Kafka
  if (!info->members.empty()) return true;
  Result<bool> kafka = log_.IsKafkaGroup(topic, group, info->created_at);
  return kafka.ok() && !*kafka;
}

ErrorCode OffsetStore::KafkaGroup(const std::string& topic, const std::string& group,
                                  GroupInfo& out) {
  Result<GroupInfo> info = broker_.DescribeGroup(topic, group);
  if (!info.ok() && info.status().code() == StatusCode::kNotFound) {
    Status s = broker_.CreateGroup(
        topic, group,
        GroupConfig{.start = StartPosition::kEarliest, .ordering = Ordering::kPerPartition});
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return GroupError(s);
    info = broker_.DescribeGroup(topic, group);
    if (s.ok() && info.ok()) {
      Status recorded = log_.AddGroup(topic, group, info->created_at);
      if (!recorded.ok()) {
        // Unrecorded it would count as native from now on: take it back (if that fails too, the
        // group stays, refusing commits, until `brokerctl groups delete` removes it).
        static_cast<void>(broker_.DeleteGroup(topic, group));
        return ToKafkaError(recorded, true);
      }
    }
  }
  if (!info.ok()) return GroupError(info.status());
  Result<bool> kafka = log_.IsKafkaGroup(topic, group, info->created_at);
  if (!kafka.ok()) return ToKafkaError(kafka.status(), true);
  // Native and Kafka members cannot share a group; and a native group without members must not
  // be moved either: a commit would settle its unsettled (nacked, delayed) messages.
  if (!*kafka || !info->members.empty()) return ErrorCode::kInconsistentGroupProtocol;
  out = std::move(*info);
  return ErrorCode::kNone;
}

std::vector<ErrorCode> OffsetStore::CommitTopic(const std::string& group, const std::string& topic,
                                                const std::vector<Commit>& commits) {
  std::vector<ErrorCode> errors(commits.size(), ErrorCode::kNone);
  auto fail_all = [&](ErrorCode e) {
    for (ErrorCode& error : errors) {
      if (error == ErrorCode::kNone) error = e;
    }
    return errors;
  };
  std::lock_guard lock(commit_mu_);
  Result<TopicInfo> topic_info = broker_.DescribeTopic(topic);
  if (!topic_info.ok()) return fail_all(ToKafkaError(topic_info.status(), true));
  GroupInfo group_info;
  const ErrorCode group_error = KafkaGroup(topic, group, group_info);
  if (group_error != ErrorCode::kNone) return fail_all(group_error);
  OffsetLog::Committed committed;
  for (size_t i = 0; i < commits.size(); ++i) {
    const Commit& c = commits[i];
    if (c.partition < 0 || static_cast<size_t>(c.partition) >= topic_info->partitions.size()) {
      errors[i] = ErrorCode::kUnknownTopicOrPartition;
      continue;
    }
    if (c.metadata && c.metadata->size() > kMaxMetadataBytes) {
      errors[i] = ErrorCode::kOffsetMetadataTooLarge;
      continue;
    }
    ResetPosition position;
    position.partition = PartitionId(static_cast<uint32_t>(c.partition));
    if (c.offset == kEarliest) {
      position.kind = ResetPosition::Kind::kEarliest;
    } else if (c.offset == kLatest) {
      position.kind = ResetPosition::Kind::kLatest;
    } else if (c.offset < 0) {
      errors[i] = ErrorCode::kInvalidRequest;
      continue;
    } else {
      position.kind = ResetPosition::Kind::kOffset;
      position.offset = static_cast<uint64_t>(c.offset);
    }
    // Committing the floor the group already has changes nothing: spare the group write.
    const PartitionLag& lag = group_info.partitions[static_cast<size_t>(c.partition)];
    const bool unchanged = position.kind == ResetPosition::Kind::kOffset &&
                           lag.ack_floor.value() == position.offset && lag.in_flight == 0 &&
                           lag.delayed == 0;
    if (!unchanged) {
      Result<GroupInfo> reset = broker_.ResetGroup(topic, group, position);
      if (!reset.ok()) {
        errors[i] = ResetError(reset.status(), HasNativeMembers(topic, group));
        continue;
      }
    }
    committed[c.partition] = c.metadata;
  }
  // The position moved; recording the commit (the partition's first, or new metadata) may still
  // fail: the client is told and retries (a retry of the same offset moves nothing).
  Status recorded = log_.AddCommits(topic, group, group_info.created_at, committed);
  if (!recorded.ok()) {
    for (size_t i = 0; i < commits.size(); ++i) {
      if (errors[i] == ErrorCode::kNone) errors[i] = ToKafkaError(recorded, true);
    }
  }
  return errors;
}

std::vector<std::pair<int32_t, OffsetStore::Committed>> OffsetStore::Fetch(
    const std::string& group, const std::string& topic, const std::vector<int32_t>& partitions) {
  std::vector<std::pair<int32_t, Committed>> out;
  Result<GroupInfo> info = broker_.DescribeGroup(topic, group);
  std::vector<int32_t> wanted = partitions;
  if (wanted.empty() && info.ok()) {
    for (const PartitionLag& p : info->partitions) {
      wanted.push_back(static_cast<int32_t>(p.partition.value()));
    }
  }
  // Kafka groups answer the partitions they committed; a native group (not created here) answers
  // its position in every partition, read-only (commits to it are refused).
  Result<bool> kafka = false;
  Result<OffsetLog::Committed> known = OffsetLog::Committed{};
  if (info.ok()) {
    kafka = log_.IsKafkaGroup(topic, group, info->created_at);
    if (kafka.ok() && *kafka) known = log_.CommittedPartitions(topic, group, info->created_at);
  }
  for (int32_t p : wanted) {
    Committed c;
    if (!info.ok()) {
      // No group (or no topic): nothing committed, as Kafka answers.
      if (info.status().code() != StatusCode::kNotFound) {
        c.error = ToKafkaError(info.status(), true);
      }
    } else if (!kafka.ok() || !known.ok()) {
      c.error = ToKafkaError(!kafka.ok() ? kafka.status() : known.status(), true);
    } else if (p >= 0 && static_cast<size_t>(p) < info->partitions.size()) {
      auto m = known->find(p);
      if (!*kafka || m != known->end()) {
        c.offset = static_cast<int64_t>(info->partitions[static_cast<size_t>(p)].ack_floor.value());
        c.metadata = m != known->end() ? m->second : std::string();
      }
    }
    if (c.offset < 0) c.metadata = std::string();
    out.emplace_back(p, std::move(c));
  }
  return out;
}

std::vector<std::string> OffsetStore::Topics(const std::string& group) {
  std::vector<std::string> topics;
  Result<std::vector<GroupInfo>> groups = broker_.ListGroups("");
  if (!groups.ok()) return topics;
  for (const GroupInfo& g : *groups) {
    if (g.group == group) topics.push_back(g.topic);
  }
  return topics;
}

}  // namespace broker::kafka
