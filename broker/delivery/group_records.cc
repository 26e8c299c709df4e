#include "delivery/group_records.h"

#include <cstring>

#include "storage/byte_order.h"

namespace broker::delivery {

using storage::GetBigEndian32;
using storage::GetBigEndian64;
using storage::PutBigEndian32;
using storage::PutBigEndian64;
using storage::PutBytes;
using storage::PutLittle32;
using storage::PutLittle64;
using storage::ValueReader;

namespace {

void PutTime(std::string& out, TimePoint t) {
  PutLittle64(out, static_cast<uint64_t>(t.time_since_epoch().count()));
}
bool ReadTime(ValueReader& r, TimePoint& t) {
  uint64_t v = 0;
  if (!r.ReadLittle64(v)) return false;
  t = TimePoint(std::chrono::microseconds(static_cast<int64_t>(v)));
  return true;
}
bool ReadString(ValueReader& r, std::string& s) {
  std::string_view v;
  if (!r.ReadBytes(v)) return false;
  s.assign(v);
  return true;
}
void PutDouble(std::string& out, double d) {
  uint64_t bits = 0;
  static_assert(sizeof(bits) == sizeof(d));
  std::memcpy(&bits, &d, sizeof(d));
  PutLittle64(out, bits);
}
bool ReadDouble(ValueReader& r, double& d) {
  uint64_t bits = 0;
  if (!r.ReadLittle64(bits)) return false;
  std::memcpy(&d, &bits, sizeof(d));
  return true;
}

}  // namespace

std::string GroupKeyPrefix(RecordKind kind, TopicId topic, std::string_view group) {
  std::string key(1, static_cast<char>(kind));
  PutBigEndian32(key, topic.value());
  key.append(group);
  key.push_back('\0');
  return key;
}

std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // all 0xff: no upper bound (not produced by our prefixes)
}

std::string GroupKey(TopicId topic, std::string_view group) {
  return GroupKeyPrefix(RecordKind::kGroup, topic, group);
}

std::string CursorKey(TopicId topic, std::string_view group, PartitionId partition) {
  std::string key = GroupKeyPrefix(RecordKind::kCursor, topic, group);
  PutBigEndian32(key, partition.value());
  return key;
}

std::string MessageKey(TopicId topic, std::string_view group, PartitionId partition, Offset offset) {
  std::string key = GroupKeyPrefix(RecordKind::kMessage, topic, group);
  PutBigEndian32(key, partition.value());
  PutBigEndian64(key, offset.value());
  return key;
}

std::string DeadKey(TopicId topic, std::string_view group, Offset dlq_offset) {
  std::string key = GroupKeyPrefix(RecordKind::kDead, topic, group);
  PutBigEndian64(key, dlq_offset.value());
  return key;
}

std::string LeaseRunKey(TopicId topic, std::string_view group, PartitionId partition,
                        Offset first_offset) {
  std::string key = GroupKeyPrefix(RecordKind::kLeaseRun, topic, group);
  PutBigEndian32(key, partition.value());
  PutBigEndian64(key, first_offset.value());
  return key;
}

bool ParseGroupKey(std::string_view key, ParsedGroupKey& out) {
  if (key.size() < 6) return false;
  const char kind = key[0];
  if (kind != 'g' && kind != 'c' && kind != 'm' && kind != 'd' && kind != 'r') return false;
  out.kind = static_cast<RecordKind>(kind);
  out.topic = TopicId(GetBigEndian32(key.data() + 1));
  const size_t end = key.find('\0', 5);
  if (end == std::string_view::npos) return false;
  out.group.assign(key.substr(5, end - 5));
  out.rest = key.substr(end + 1);
  return true;
}

std::string EncodeGroupRecord(const GroupRecord& r) {
  std::string out;
  PutLittle32(out, 2);  // version; 2 added serves_requests at the end
  PutBytes(out, r.topic);
  out.push_back(static_cast<char>(r.config.start));
  out.push_back(static_cast<char>(r.config.ordering));
  PutLittle64(out, static_cast<uint64_t>(r.config.ack_timeout.count()));
  PutLittle32(out, r.config.max_deliveries);
  PutLittle64(out, static_cast<uint64_t>(r.config.backoff.initial.count()));
  PutDouble(out, r.config.backoff.multiplier);
  PutLittle64(out, static_cast<uint64_t>(r.config.backoff.max.count()));
  PutDouble(out, r.config.backoff.jitter);
  PutTime(out, r.created_at);
  out.push_back(static_cast<char>(r.config.serves_requests ? 1 : 0));
  return out;
}

bool DecodeGroupRecord(std::string_view v, GroupRecord& out) {
  ValueReader r(v);
  uint32_t version = 0;
  uint8_t start = 0, ordering = 0, serves_requests = 0;
  uint64_t ack_timeout = 0, initial = 0, max = 0;
  if (!r.ReadLittle32(version) || (version != 1 && version != 2) || !ReadString(r, out.topic) ||
      !r.ReadByte(start) || !r.ReadByte(ordering) || !r.ReadLittle64(ack_timeout) ||
      !r.ReadLittle32(out.config.max_deliveries) || !r.ReadLittle64(initial) ||
      !ReadDouble(r, out.config.backoff.multiplier) || !r.ReadLittle64(max) ||
      !ReadDouble(r, out.config.backoff.jitter) || !ReadTime(r, out.created_at) ||
      (version == 2 && !r.ReadByte(serves_requests)) || !r.done() || start > 1 || ordering > 2 ||
      serves_requests > 1) {
    return false;
  }
  out.config.serves_requests = serves_requests == 1;
  out.config.start = static_cast<StartPosition>(start);
  out.config.ordering = static_cast<Ordering>(ordering);
  out.config.ack_timeout = std::chrono::milliseconds(static_cast<int64_t>(ack_timeout));
  out.config.backoff.initial = std::chrono::milliseconds(static_cast<int64_t>(initial));
  out.config.backoff.max = std::chrono::milliseconds(static_cast<int64_t>(max));
  return true;
}

std::string EncodeCursorRecord(const CursorRecord& r) {
  std::string out;
  PutLittle64(out, r.next_offset.value());
  PutLittle64(out, r.expired);
  return out;
}

bool DecodeCursorRecord(std::string_view v, CursorRecord& out) {
  ValueReader r(v);
  uint64_t next = 0;
  if (!r.ReadLittle64(next) || !r.ReadLittle64(out.expired) || !r.done()) return false;
  out.next_offset = Offset(next);
  return true;
}

std::string EncodeMessageRecord(const MessageRecord& m) {
  std::string out;
  out.push_back(static_cast<char>(m.state));
  PutLittle32(out, m.attempts);
  out.push_back(static_cast<char>(m.has_key ? 1 : 0));
  PutLittle64(out, m.key_hash);
  PutBytes(out, m.member);
  PutTime(out, m.lease_expires);
  PutTime(out, m.due_at);
  PutTime(out, m.first_delivery);
  PutTime(out, m.last_delivery);
  PutBytes(out, m.last_error);
  return out;
}

bool DecodeMessageRecord(std::string_view v, MessageRecord& out) {
  ValueReader r(v);
  uint8_t state = 0, has_key = 0;
  if (!r.ReadByte(state) || state > 2 || !r.ReadLittle32(out.attempts) || !r.ReadByte(has_key) ||
      !r.ReadLittle64(out.key_hash) || !ReadString(r, out.member) ||
      !ReadTime(r, out.lease_expires) || !ReadTime(r, out.due_at) ||
      !ReadTime(r, out.first_delivery) || !ReadTime(r, out.last_delivery) ||
      !ReadString(r, out.last_error) || !r.done()) {
    return false;
  }
  out.state = static_cast<EntryState>(state);
  out.has_key = has_key != 0;
  return true;
}

std::string EncodeLeaseRunRecord(const LeaseRunRecord& r) {
  const uint32_t count = static_cast<uint32_t>(r.released.size());
  std::string out;
  out.reserve(4 + 4 + r.member.size() + 16 + (count + 7) / 8);
  PutLittle32(out, count);
  PutBytes(out, r.member);
  PutTime(out, r.lease_expires);
  PutTime(out, r.delivered_at);
  const size_t bitmap = out.size();
  out.resize(bitmap + (count + 7) / 8, '\0');
  for (uint32_t i = 0; i < count; ++i) {
    if (r.released[i]) out[bitmap + i / 8] |= static_cast<char>(1 << (i % 8));
  }
  return out;
}

bool DecodeLeaseRunRecord(std::string_view v, LeaseRunRecord& out) {
  ValueReader r(v);
  uint32_t count = 0;
  if (!r.ReadLittle32(count) || count == 0 || count > kMaxLeaseRun || !ReadString(r, out.member) ||
      !ReadTime(r, out.lease_expires) || !ReadTime(r, out.delivered_at) ||
      v.size() - r.position() != (count + 7) / 8) {
    return false;
  }
  const std::string_view bitmap = v.substr(r.position());
  out.released.assign(count, false);
  for (uint32_t i = 0; i < count; ++i) {
    out.released[i] = (static_cast<unsigned char>(bitmap[i / 8]) >> (i % 8)) & 1;
  }
  // Unused bits of the last byte are zero.
  return count % 8 == 0 || (static_cast<unsigned char>(bitmap.back()) >> (count % 8)) == 0;
}

std::string EncodeDeadRecord(const DeadRecord& d) {
  std::string out;
  PutLittle32(out, d.partition.value());
  PutLittle64(out, d.offset.value());
  PutBytes(out, d.reason);
  PutBytes(out, d.last_error);
  PutLittle32(out, d.attempts);
  PutTime(out, d.first_delivery);
  PutTime(out, d.dead_at);
  out.push_back(static_cast<char>(d.purged ? 1 : 0));
  return out;
}

bool DecodeDeadRecord(std::string_view v, DeadRecord& out) {
  ValueReader r(v);
  uint32_t partition = 0;
  uint64_t offset = 0;
  if (!r.ReadLittle32(partition) || !r.ReadLittle64(offset) || !ReadString(r, out.reason) ||
      !ReadString(r, out.last_error) || !r.ReadLittle32(out.attempts) ||
      !ReadTime(r, out.first_delivery) || !ReadTime(r, out.dead_at)) {
    return false;
  }
  uint8_t purged = 0;
  if (!r.done() && !r.ReadByte(purged)) return false;
  if (!r.done()) return false;
  out.purged = purged != 0;
  out.partition = PartitionId(partition);
  out.offset = Offset(offset);
  return true;
}

}  // namespace broker::delivery
