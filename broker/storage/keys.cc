#include "storage/keys.h"

#include "storage/byte_order.h"

namespace broker::storage {

std::string LogKey(TopicId topic, PartitionId partition, Offset base_offset) {
  std::string key;
  key.reserve(kLogKeySize);
  PutBigEndian32(key, topic.value());
  PutBigEndian32(key, partition.value());
  PutBigEndian64(key, base_offset.value());
  return key;
}

std::string PartitionPrefix(TopicId topic, PartitionId partition) {
  std::string key;
  key.reserve(8);
  PutBigEndian32(key, topic.value());
  PutBigEndian32(key, partition.value());
  return key;
}

std::string TopicPrefix(TopicId topic) {
  std::string key;
  PutBigEndian32(key, topic.value());
  return key;
}

bool DecodeLogKey(std::string_view key, LogKeyParts& out) {
  if (key.size() != kLogKeySize) return false;
  out.topic = TopicId(GetBigEndian32(key.data()));
  out.partition = PartitionId(GetBigEndian32(key.data() + 4));
  out.base_offset = Offset(GetBigEndian64(key.data() + 8));
  return true;
}

std::string TopicMetaKey(std::string_view name) {
  std::string key(kTopicMetaPrefix);
  key.append(name);
  return key;
}

std::string PartitionMetaKey(TopicId topic, PartitionId partition) {
  std::string key = "p/";
  PutBigEndian32(key, topic.value());
  PutBigEndian32(key, partition.value());
  return key;
}

std::string DedupeKey(TopicId topic, std::string_view idempotency_key) {
  std::string key;
  key.reserve(4 + idempotency_key.size());
  PutBigEndian32(key, topic.value());
  key.append(idempotency_key);
  return key;
}

}  // namespace broker::storage
