#include "storage/retention.h"

#include <memory>
#include <optional>

#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/rocks_status.h"
#include "storage/topic_meta.h"

namespace broker::storage {
namespace {

// Deletes the expired front of one partition. Returns the number of records deleted.
// `settled_floor`: for an interest topic with groups, the partition's settled floor.
Result<uint64_t> TrimPartition(const StorageDb& db, const TopicState& topic, PartitionId partition,
                               TimePoint now, std::optional<uint64_t> settled_floor,
                               RetentionResult& result) {
  const TopicConfig& config = topic.record.config;
  PartitionState& state = *topic.partitions[partition.value()];
  PartitionRecord record = state.Snapshot();
  const std::string prefix = PartitionPrefix(topic.record.id, partition);

  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator({}, db.log_index()));
  PartitionRecord trimmed = record;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    BatchIndexEntry entry;
    LogKeyParts parts;
    if (!DecodeLogKey(it->key().ToStringView(), parts) ||
        !DecodeIndexEntry(it->value().ToStringView(), entry)) {
      return Status::DataLoss("index of '" + topic.name + "' partition " +
                              std::to_string(partition.value()) + " is corrupt");
    }
    const bool too_old = config.retention_age.count() > 0 &&
                         now - entry.max_timestamp > config.retention_age;
    const bool too_big = config.retention_bytes > 0 && trimmed.bytes > config.retention_bytes;
    const bool settled =
        settled_floor && parts.base_offset.value() + entry.count <= *settled_floor;
    if (!too_old && !too_big && !settled) break;
    trimmed.first_offset = parts.base_offset + entry.count;
    trimmed.bytes -= std::min(trimmed.bytes, entry.bytes);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning '" + topic.name + "'");
  if (trimmed.first_offset == record.first_offset) return uint64_t{0};

  rocksdb::WriteBatch batch;
  const std::string begin = LogKey(topic.record.id, partition, Offset(0));
  const std::string end = LogKey(topic.record.id, partition, trimmed.first_offset);
  batch.DeleteRange(db.log(), begin, end);
  batch.DeleteRange(db.log_index(), begin, end);
  batch.Put(db.meta(), PartitionMetaKey(topic.record.id, partition),
            EncodePartitionRecord(trimmed));
  rocksdb::Status s = db.db()->Write({}, &batch);
  if (!s.ok()) return FromRocks(s, "applying retention to '" + topic.name + "'");
  state.Store(trimmed);
  // Counted across passes: a consumer that drains a topic while passes run deletes it in slices.
  state.deleted_since_compaction += record.bytes - trimmed.bytes;
  if (state.deleted_since_compaction >= kCompactAfterBytes) {
    state.deleted_since_compaction = 0;
    result.to_compact.emplace_back(begin, end);
  }
  return trimmed.first_offset.value() - record.first_offset.value();
}

Result<uint64_t> ExpireDedupeKeys(const StorageDb& db, TimePoint now,
                                  std::chrono::milliseconds window) {
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator({}, db.dedupe()));
  rocksdb::WriteBatch batch;
  uint64_t expired = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    DedupeRecord record;
    if (!DecodeDedupeRecord(it->value().ToStringView(), record) ||
        now - record.first_seen >= window) {
      batch.Delete(db.dedupe(), it->key());
      ++expired;
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning idempotency keys");
  if (expired == 0) return uint64_t{0};
  rocksdb::Status s = db.db()->Write({}, &batch);
  if (!s.ok()) return FromRocks(s, "expiring idempotency keys");
  return expired;
}

}  // namespace

Result<RetentionResult> ApplyRetention(const StorageDb& db, TopicRegistry& registry, TimePoint now,
                                       std::chrono::milliseconds dedupe_window,
                                       const SettledFloors& settled) {
  RetentionResult result;
  for (const auto& topic : registry.All()) {
    const TopicConfig& config = topic->record.config;
    const std::vector<uint64_t>* floors = nullptr;
    if (auto it = settled.find(topic->record.id.value()); it != settled.end()) {
      floors = &it->second;
    }
    if (config.retention_age.count() == 0 && config.retention_bytes == 0 && !floors) continue;
    for (uint32_t p = 0; p < config.partitions; ++p) {
      std::optional<uint64_t> floor;
      if (floors && p < floors->size()) floor = (*floors)[p];
      auto deleted = TrimPartition(db, *topic, PartitionId(p), now, floor, result);
      if (!deleted.ok()) return deleted.status();
      result.records_deleted += *deleted;
    }
  }
  auto expired = ExpireDedupeKeys(db, now, dedupe_window);
  if (!expired.ok()) return expired.status();
  result.dedupe_keys_expired = *expired;
  return result;
}

}  // namespace broker::storage
