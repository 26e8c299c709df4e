#include "storage/topic_meta.h"

#include "storage/byte_order.h"

namespace broker::storage {
namespace {

uint64_t Micros(TimePoint t) { return static_cast<uint64_t>(t.time_since_epoch().count()); }
TimePoint FromMicros(uint64_t us) {
  return TimePoint(std::chrono::microseconds(static_cast<int64_t>(us)));
}

}  // namespace

std::string EncodeTopicRecord(const TopicRecord& r) {
  std::string out;
  // Version 1 ends after created_at; version 2 adds the retention policy and max_bytes.
  PutLittle32(out, 2);  // record version
  PutLittle32(out, r.id.value());
  PutLittle32(out, r.config.partitions);
  PutLittle64(out, static_cast<uint64_t>(r.config.retention_age.count()));
  PutLittle64(out, r.config.retention_bytes);
  PutLittle32(out, r.config.max_message_bytes);
  PutLittle64(out, Micros(r.created_at));
  PutLittle32(out, static_cast<uint32_t>(r.config.retention));
  PutLittle64(out, r.config.max_bytes);
  return out;
}

bool DecodeTopicRecord(std::string_view value, TopicRecord& out) {
  ValueReader r(value);
  uint32_t version = 0, id = 0, policy = 0;
  uint64_t age = 0, created = 0;
  if (!r.ReadLittle32(version) || (version != 1 && version != 2) || !r.ReadLittle32(id) ||
      !r.ReadLittle32(out.config.partitions) || !r.ReadLittle64(age) ||
      !r.ReadLittle64(out.config.retention_bytes) || !r.ReadLittle32(out.config.max_message_bytes) ||
      !r.ReadLittle64(created)) {
    return false;
  }
  out.config.max_bytes = 0;
  if (version == 2 && (!r.ReadLittle32(policy) || !r.ReadLittle64(out.config.max_bytes))) {
    return false;
  }
  if (!r.done() || policy > static_cast<uint32_t>(RetentionPolicy::kInterest)) return false;
  out.config.retention = static_cast<RetentionPolicy>(policy);
  out.id = TopicId(id);
  out.config.retention_age = std::chrono::milliseconds(static_cast<int64_t>(age));
  out.created_at = FromMicros(created);
  return true;
}

std::string EncodePartitionRecord(const PartitionRecord& r) {
  std::string out;
  out.reserve(24);
  PutLittle64(out, r.first_offset.value());
  PutLittle64(out, r.end_offset.value());
  PutLittle64(out, r.bytes);
  return out;
}

bool DecodePartitionRecord(std::string_view value, PartitionRecord& out) {
  ValueReader r(value);
  uint64_t first = 0, end = 0;
  if (!r.ReadLittle64(first) || !r.ReadLittle64(end) || !r.ReadLittle64(out.bytes) || !r.done() ||
      first > end) {
    return false;
  }
  out.first_offset = Offset(first);
  out.end_offset = Offset(end);
  return true;
}

std::string EncodeDedupeRecord(const DedupeRecord& r) {
  std::string out;
  out.reserve(20);
  PutLittle32(out, r.partition.value());
  PutLittle64(out, r.offset.value());
  PutLittle64(out, Micros(r.first_seen));
  return out;
}

bool DecodeDedupeRecord(std::string_view value, DedupeRecord& out) {
  ValueReader r(value);
  uint32_t partition = 0;
  uint64_t offset = 0, seen = 0;
  if (!r.ReadLittle32(partition) || !r.ReadLittle64(offset) || !r.ReadLittle64(seen) || !r.done()) {
    return false;
  }
  out.partition = PartitionId(partition);
  out.offset = Offset(offset);
  out.first_seen = FromMicros(seen);
  return true;
}

}  // namespace broker::storage
