// Keys and values of the "groups" column family: consumer-group state (docs/storage_format.md).
//
//   'g' topic_id(BE32) group '\0'                       -> GroupRecord
//   'c' topic_id(BE32) group '\0' partition(BE32)       -> CursorRecord
//   'm' topic_id(BE32) group '\0' partition(BE32) offset(BE64) -> MessageRecord (unsettled only)
//   'd' topic_id(BE32) group '\0' dlq_offset(BE64)       -> DeadRecord (not yet redriven/purged)
//   'r' topic_id(BE32) group '\0' partition(BE32) first_offset(BE64) -> LeaseRunRecord
//
// Offsets in [ack_floor, next_offset) covered by neither an 'm' record nor a live offset of an
// 'r' record are settled; ack_floor itself is not stored: it is the lowest such unsettled offset
// of the partition, or next_offset when there is none. An 'm' record wins over a run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/delivery.h"
#include "broker/types.h"
#include "storage/keys.h"

namespace broker::delivery {

using storage::TopicId;

enum class RecordKind : char {
  kGroup = 'g',
  kCursor = 'c',
  kMessage = 'm',
  kDead = 'd',
  kLeaseRun = 'r',
};

// kind | topic_id | group | '\0'
std::string GroupKeyPrefix(RecordKind kind, TopicId topic, std::string_view group);
// The first key after every key starting with `prefix` (for DeleteRange and iteration bounds).
std::string PrefixEnd(std::string prefix);
std::string GroupKey(TopicId topic, std::string_view group);
std::string CursorKey(TopicId topic, std::string_view group, PartitionId partition);
std::string MessageKey(TopicId topic, std::string_view group, PartitionId partition, Offset offset);
std::string DeadKey(TopicId topic, std::string_view group, Offset dlq_offset);
std::string LeaseRunKey(TopicId topic, std::string_view group, PartitionId partition,
                        Offset first_offset);

struct ParsedGroupKey {
  RecordKind kind;
  TopicId topic;
  std::string group;
  std::string_view rest;  // what follows the '\0'
};
bool ParseGroupKey(std::string_view key, ParsedGroupKey& out);

struct GroupRecord {
  std::string topic;
  GroupConfig config;
  TimePoint created_at{};
};
std::string EncodeGroupRecord(const GroupRecord& r);
bool DecodeGroupRecord(std::string_view v, GroupRecord& out);

struct CursorRecord {
  Offset next_offset;
  uint64_t expired = 0;
};
std::string EncodeCursorRecord(const CursorRecord& r);
bool DecodeCursorRecord(std::string_view v, CursorRecord& out);

enum class EntryState : uint8_t { kAvailable = 0, kLeased = 1, kDelayed = 2 };

struct MessageRecord {
  EntryState state = EntryState::kAvailable;
  uint32_t attempts = 0;
  bool has_key = false;
  uint64_t key_hash = 0;
  std::string member;
  TimePoint lease_expires{};
  TimePoint due_at{};
  TimePoint first_delivery{};
  TimePoint last_delivery{};
  std::string last_error;
};
std::string EncodeMessageRecord(const MessageRecord& r);
bool DecodeMessageRecord(std::string_view v, MessageRecord& out);

// The first deliveries of consecutive offsets leased by one poll to one member: one record instead
// of one MessageRecord per offset. Offset first + i stands for MessageRecord{kLeased, attempts 1,
// member, lease_expires, first_delivery = last_delivery = delivered_at} while released[i] is
// false. Once it is settled, or its state is written as an 'm' record (nack, expiry, extend,
// dead letter), released[i] becomes true; the record is deleted when every offset is released.
struct LeaseRunRecord {
  std::string member;
  TimePoint lease_expires{};
  TimePoint delivered_at{};
  std::vector<bool> released;  // one per offset of the run; its size is the run's length
};
// Runs are at most this long (a poll of more starts a new run).
inline constexpr uint32_t kMaxLeaseRun = 4096;
std::string EncodeLeaseRunRecord(const LeaseRunRecord& r);
bool DecodeLeaseRunRecord(std::string_view v, LeaseRunRecord& out);

struct DeadRecord {
  PartitionId partition;
  Offset offset;
  std::string reason;
  std::string last_error;
  uint32_t attempts = 0;
  TimePoint first_delivery{};
  TimePoint dead_at{};
  // Purged letters stay as tombstones, so the per-message view can still say the message died
  // (and was not acked). They count nowhere else, and are deleted once retention has deleted the
  // original (nothing is left to ask about).
  bool purged = false;
};
std::string EncodeDeadRecord(const DeadRecord& r);
bool DecodeDeadRecord(std::string_view v, DeadRecord& out);

}  // namespace broker::delivery
