// Key layout of every column family. The full description is docs/storage_format.md; keep the two
// in step.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/types.h"

namespace broker::storage {

// Internal, never-reused id of a topic; a deleted topic's name can come back under a new id.
using TopicId = StrongInt<struct TopicIdTag, uint32_t>;

// ---- log and log_index CFs: topic_id(BE32) | partition(BE32) | base_offset(BE64) ----------------
inline constexpr size_t kLogKeySize = 16;
std::string LogKey(TopicId topic, PartitionId partition, Offset base_offset);
// The 8-byte prefix shared by every batch of one partition.
std::string PartitionPrefix(TopicId topic, PartitionId partition);
// The 4-byte prefix of every key of one topic (log, log_index, dedupe).
std::string TopicPrefix(TopicId topic);

struct LogKeyParts {
  TopicId topic;
  PartitionId partition;
  Offset base_offset;
};
// False if `key` is not a 16-byte log key.
bool DecodeLogKey(std::string_view key, LogKeyParts& out);

// ---- meta CF ------------------------------------------------------------------------------
// "t/<name>" -> TopicRecord (topic_meta.h).
std::string TopicMetaKey(std::string_view name);
inline constexpr std::string_view kTopicMetaPrefix = "t/";
// "p/" topic_id(BE32) partition(BE32) -> PartitionRecord (topic_meta.h).
std::string PartitionMetaKey(TopicId topic, PartitionId partition);
// Next topic id to hand out (LE32). Ids are never reused.
inline constexpr std::string_view kNextTopicIdKey = "next_topic_id";
// On-disk format version (LE32); Open refuses a version it does not know.
inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr uint32_t kFormatVersion = 1;

// ---- dedupe CF: topic_id(BE32) | idempotency key -> DedupeRecord (topic_meta.h) ----------------
std::string DedupeKey(TopicId topic, std::string_view idempotency_key);

}  // namespace broker::storage
