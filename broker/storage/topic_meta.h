// Values of the meta and dedupe column families (layout in docs/storage_format.md).
#pragma once

#include <string>
#include <string_view>

#include "broker/types.h"
#include "storage/keys.h"

namespace broker::storage {

// meta "t/<name>": a topic's id, configuration and creation time.
struct TopicRecord {
  TopicId id;
  TopicConfig config;
  TimePoint created_at{};
};
std::string EncodeTopicRecord(const TopicRecord& record);
bool DecodeTopicRecord(std::string_view value, TopicRecord& out);

// meta "p/...": a partition's bounds and totals. Rewritten in the same atomic write as every
// append or retention deletion that changes them, so it is always consistent with the log.
struct PartitionRecord {
  Offset first_offset;
  Offset end_offset;
  uint64_t bytes = 0;
  friend bool operator==(const PartitionRecord&, const PartitionRecord&) = default;
};
std::string EncodePartitionRecord(const PartitionRecord& record);
bool DecodePartitionRecord(std::string_view value, PartitionRecord& out);

// dedupe: where the first publish with an idempotency key landed and when it was first seen.
struct DedupeRecord {
  PartitionId partition;
  Offset offset;
  TimePoint first_seen{};
};
std::string EncodeDedupeRecord(const DedupeRecord& record);
bool DecodeDedupeRecord(std::string_view value, DedupeRecord& out);

}  // namespace broker::storage
