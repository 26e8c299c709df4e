// Value types of the public API: strong integer types, messages, records and topic descriptions.
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace broker {

// An integer that does not silently mix with other integers: an Offset is not a PartitionId.
template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep = Rep;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

 private:
  Rep v_{};
};

// Position of a record within one partition. Dense, starting at 0, never reused.
using Offset = StrongInt<struct OffsetTag, uint64_t>;
// Index of a partition within a topic, 0..partitions-1.
using PartitionId = StrongInt<struct PartitionTag, uint32_t>;

constexpr Offset operator+(Offset o, uint64_t n) { return Offset(o.value() + n); }

// Wall-clock time with microsecond resolution, as stored on disk. Always read from a Clock.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

// Headers keep their order; a name may repeat. Values are bytes.
using Headers = std::vector<std::pair<std::string, std::string>>;

// What a producer publishes.
struct Message {
  // Partitioning key: records with the same key go to the same partition (stable hash). Without a
  // key, records are spread round-robin.
  std::optional<std::string> key;
  std::string payload;
  Headers headers;
  // Producer dedupe: a repeat of a key within the broker's dedupe window appends nothing and
  // returns the first publish's position flagged `duplicate`. Empty means no dedupe.
  std::string idempotency_key;
};

// Where a published message landed.
struct PublishResult {
  PartitionId partition;
  Offset offset;
  bool duplicate = false;  // true: an earlier publish with the same idempotency key
  friend bool operator==(const PublishResult&, const PublishResult&) = default;
};

// A stored record as read back.
struct Record {
  PartitionId partition;
  Offset offset;
  TimePoint timestamp;  // broker time at append
  std::optional<std::string> key;
  std::string payload;
  Headers headers;
};

struct ReadResult {
  std::vector<Record> records;
  // The partition's first retained offset at read time. If the requested offset was below it
  // (deleted by retention), reading started here instead.
  Offset first_offset;
  // One past the last committed record at read time: where the next append will land.
  Offset end_offset;
};

// Bounds of one Read call. At least one record is returned if any is available, even if it is
// larger than max_bytes, so a reader always makes progress.
struct ReadLimits {
  size_t max_records = 1000;
  size_t max_bytes = 4 << 20;
};

// How a topic's records leave it (docs/operations.md, "Retention").
enum class RetentionPolicy : uint8_t {
  // By age and/or size (TopicConfig::retention_age, retention_bytes); unsettled records deleted
  // this way are counted per group as `expired`.
  kLimits = 0,
  // A record is deleted once every group of the topic has settled it (acked or dead-lettered),
  // in whole batches, by the background retention pass. A topic without groups keeps everything.
  // Publishes past TopicConfig::max_bytes are refused with kResourceExhausted.
  kInterest = 1,
};

struct TopicConfig {
  // Number of partitions, fixed at creation. Default 1.
  uint32_t partitions = 1;
  // Default kLimits. Fixed at creation.
  RetentionPolicy retention = RetentionPolicy::kLimits;
  // Retention by age: records older than this are deleted in whole batches. 0 (default) = keep.
  // Also honoured by kInterest topics (as JetStream's MaxAge is), counting unsettled deletions as
  // `expired`.
  std::chrono::milliseconds retention_age{0};
  // Retention by size per partition: oldest batches are deleted while a partition holds more than
  // this many bytes. 0 (default) = unlimited. kLimits only (kInterest uses max_bytes).
  uint64_t retention_bytes = 0;
  // kInterest only: hard cap on the stored bytes of the whole topic (all partitions). A publish
  // that would take the topic past it is refused with kResourceExhausted, and succeeds again once
  // groups settle records and retention deletes them; nothing unsettled is deleted to make room.
  // 0 (default) = no cap.
  uint64_t max_bytes = 0;
  // Largest accepted message (key + payload + headers). 0 (default) = the broker's limit.
  uint32_t max_message_bytes = 0;
  friend bool operator==(const TopicConfig&, const TopicConfig&) = default;
};

struct PartitionInfo {
  PartitionId partition;
  Offset first_offset;  // first retained record
  Offset end_offset;    // one past the last record (the "next offset")
  uint64_t bytes = 0;   // stored bytes of retained records
  uint64_t records = 0;  // retained records = end_offset - first_offset
};

struct TopicInfo {
  std::string name;
  TopicConfig config;
  TimePoint created_at;
  std::vector<PartitionInfo> partitions;
};

}  // namespace broker
