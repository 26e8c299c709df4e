#include "kafka/offset_store.h"

namespace broker::kafka {
namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;

// An engine error of a group call in Kafka's terms.
ErrorCode GroupError(const Status& status) {
  // A name the engine refuses (or whose dead-letter topic name would be too long).
  if (status.code() == StatusCode::kInvalidArgument) return ErrorCode::kInvalidGroupId;
  // Native members hold the group, so its position cannot move.
  if (status.code() == StatusCode::kFailedPrecondition) {
    return ErrorCode::kInconsistentGroupProtocol;
  }
  return ToKafkaError(status, true);
}

}  // namespace

bool OffsetStore::HasNativeMembers(const std::string& topic, const std::string& group) {
  Result<GroupInfo> info = broker_.DescribeGroup(topic, group);
  return info.ok() && !info->members.empty();
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
  Result<TopicInfo> topic_info = broker_.DescribeTopic(topic);
  if (!topic_info.ok()) return fail_all(ToKafkaError(topic_info.status(), true));
  Result<GroupInfo> info = broker_.DescribeGroup(topic, group);
  bool created = false;
  if (!info.ok() && info.status().code() == StatusCode::kNotFound) {
    Status s = broker_.CreateGroup(
        topic, group,
        GroupConfig{.start = StartPosition::kEarliest, .ordering = Ordering::kPerPartition});
    created = s.ok();
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return fail_all(GroupError(s));
    info = broker_.DescribeGroup(topic, group);
  }
  if (!info.ok()) return fail_all(GroupError(info.status()));
  if (!info->members.empty()) return fail_all(ErrorCode::kInconsistentGroupProtocol);
  {
    std::lock_guard lock(mu_);
    if (created) offsets_[{group, topic}].created_here = true;
  }
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
    const PartitionLag& lag = info->partitions[static_cast<size_t>(c.partition)];
    const bool unchanged = position.kind == ResetPosition::Kind::kOffset &&
                           lag.ack_floor.value() == position.offset && lag.in_flight == 0 &&
                           lag.delayed == 0;
    if (!unchanged) {
      Result<GroupInfo> reset = broker_.ResetGroup(topic, group, position);
      if (!reset.ok()) {
        errors[i] = GroupError(reset.status());
        continue;
      }
    }
    std::lock_guard lock(mu_);
    offsets_[{group, topic}].committed[c.partition] = c.metadata;
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
  std::lock_guard lock(mu_);
  auto known = offsets_.find({group, topic});
  for (int32_t p : wanted) {
    Committed c;
    if (!info.ok()) {
      // No group (or no topic): nothing committed, as Kafka answers.
      if (info.status().code() != StatusCode::kNotFound) {
        c.error = ToKafkaError(info.status(), true);
      }
    } else if (p >= 0 && static_cast<size_t>(p) < info->partitions.size()) {
      const bool committed = known == offsets_.end() || !known->second.created_here ||
                             known->second.committed.count(p) != 0;
      if (committed) {
        c.offset = static_cast<int64_t>(info->partitions[static_cast<size_t>(p)].ack_floor.value());
        c.metadata = std::string();
        if (known != offsets_.end()) {
          auto m = known->second.committed.find(p);
          if (m != known->second.committed.end()) c.metadata = m->second;
        }
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
