#include "kafka/offset_log.h"

#include <charconv>
#include <chrono>

namespace broker::kafka {
namespace {

// Record headers (docs/kafka.md, "Committed offsets"). The payload is the commit metadata.
constexpr char kKind[] = "kind";  // kGroupKind or kCommitKind
constexpr char kGroupKind[] = "group";
constexpr char kCommitKind[] = "commit";
constexpr char kTopicHeader[] = "topic";
constexpr char kGroupHeader[] = "group";
constexpr char kCreatedAt[] = "created_at";  // the engine group's, microseconds since the epoch
constexpr char kPartition[] = "partition";
constexpr char kNullMetadata[] = "null_metadata";  // present: the metadata was null

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string Micros(TimePoint t) { return std::to_string(t.time_since_epoch().count()); }

Message GroupMessage(const std::string& topic, const std::string& group, TimePoint created_at,
                     std::string_view kind) {
  return Message{.key = topic + "/" + group,
                 .payload = {},
                 .headers = {{kKind, std::string(kind)},
                             {kTopicHeader, topic},
                             {kGroupHeader, group},
                             {kCreatedAt, Micros(created_at)}},
                 .idempotency_key = {}};
}

}  // namespace

Status OffsetLog::LoadLocked() {
  if (loaded_) return Status::Ok();
  Result<TopicInfo> info = broker_.DescribeTopic(kTopic);
  if (!info.ok()) {
    if (info.status().code() != StatusCode::kNotFound) return info.status();
    loaded_ = true;  // nothing was ever recorded
    return Status::Ok();
  }
  for (const PartitionInfo& p : info->partitions) {
    Offset from = p.first_offset;
    while (from < p.end_offset) {
      Result<ReadResult> read = broker_.Read(kTopic, p.partition, from);
      if (!read.ok()) return read.status();
      if (read->records.empty()) break;
      for (const Record& r : read->records) ApplyLocked(r);
      from = read->records.back().offset + 1;
    }
  }
  loaded_ = true;
  return Status::Ok();
}

void OffsetLog::ApplyLocked(const Record& record) {
  std::string kind, topic, group, created, partition;
  bool null_metadata = false;
  for (const auto& [name, value] : record.headers) {
    if (name == kKind) kind = value;
    if (name == kTopicHeader) topic = value;
    if (name == kGroupHeader) group = value;
    if (name == kCreatedAt) created = value;
    if (name == kPartition) partition = value;
    if (name == kNullMetadata) null_metadata = true;
  }
  const std::optional<int64_t> micros = ParseInt(created);
  if (!micros) return;  // not a record of ours: ignored
  const TimePoint created_at{std::chrono::microseconds(*micros)};
  if (kind == kGroupKind) {
    GroupRecord& g = groups_[{topic, group}];
    if (g.created_at != created_at) g = GroupRecord{.created_at = created_at, .committed = {}};
    return;
  }
  const std::optional<int64_t> p = ParseInt(partition);
  auto g = groups_.find({topic, group});
  // A commit of an older engine group of that name (deleted since) is stale.
  if (kind != kCommitKind || !p || g == groups_.end() || g->second.created_at != created_at) return;
  g->second.committed[static_cast<int32_t>(*p)] =
      null_metadata ? std::nullopt : std::optional<std::string>(record.payload);
}

Status OffsetLog::AppendLocked(std::vector<Message> messages) {
  if (messages.empty()) return Status::Ok();
  Status created = broker_.CreateTopic(kTopic, TopicConfig{});
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
  Result<std::vector<PublishResult>> written =
      broker_.PublishBatch(kTopic, std::move(messages), {.partition = PartitionId(0)});
  return written.ok() ? Status::Ok() : written.status();
}

Result<bool> OffsetLog::IsKafkaGroup(const std::string& topic, const std::string& group,
                                     TimePoint created_at) {
  std::lock_guard lock(mu_);
  Status loaded = LoadLocked();
  if (!loaded.ok()) return loaded;
  auto g = groups_.find({topic, group});
  return g != groups_.end() && g->second.created_at == created_at;
}

Result<OffsetLog::Committed> OffsetLog::CommittedPartitions(const std::string& topic,
                                                            const std::string& group,
                                                            TimePoint created_at) {
  std::lock_guard lock(mu_);
  Status loaded = LoadLocked();
  if (!loaded.ok()) return loaded;
  auto g = groups_.find({topic, group});
  if (g == groups_.end() || g->second.created_at != created_at) return Committed{};
  return g->second.committed;
}

Status OffsetLog::AddGroup(const std::string& topic, const std::string& group,
                           TimePoint created_at) {
  std::lock_guard lock(mu_);
  Status loaded = LoadLocked();
  if (!loaded.ok()) return loaded;
  std::vector<Message> record;
  record.push_back(GroupMessage(topic, group, created_at, kGroupKind));
  Status written = AppendLocked(std::move(record));
  if (written.ok())
    groups_[{topic, group}] = GroupRecord{.created_at = created_at, .committed = {}};
  return written;
}

Status OffsetLog::AddCommits(const std::string& topic, const std::string& group,
                             TimePoint created_at, const Committed& commits) {
  std::lock_guard lock(mu_);
  Status loaded = LoadLocked();
  if (!loaded.ok()) return loaded;
  auto g = groups_.find({topic, group});
  if (g == groups_.end() || g->second.created_at != created_at) {
    return Status::FailedPrecondition("group '" + group + "' on topic '" + topic +
                                      "' was not created for Kafka");
  }
  std::vector<Message> records;
  for (const auto& [partition, metadata] : commits) {
    auto known = g->second.committed.find(partition);
    if (known != g->second.committed.end() && known->second == metadata) continue;
    Message m = GroupMessage(topic, group, created_at, kCommitKind);
    m.headers.emplace_back(kPartition, std::to_string(partition));
    if (metadata) {
      m.payload = *metadata;
    } else {
      m.headers.emplace_back(kNullMetadata, std::string());
    }
    records.push_back(std::move(m));
  }
  Status written = AppendLocked(std::move(records));
  if (!written.ok()) return written;
  for (const auto& [partition, metadata] : commits) g->second.committed[partition] = metadata;
  return Status::Ok();
}

}  // namespace broker::kafka
