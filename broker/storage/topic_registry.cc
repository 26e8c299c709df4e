#include "storage/topic_registry.h"

#include <mutex>

#include <rocksdb/iterator.h>

#include "storage/byte_order.h"
#include "storage/rocks_status.h"

namespace broker::storage {

TopicState::TopicState(std::string n, TopicRecord r) : name(std::move(n)), record(r) {
  partitions.reserve(record.config.partitions);
  for (uint32_t i = 0; i < record.config.partitions; ++i) {
    partitions.push_back(std::make_unique<PartitionState>());
  }
}

TopicInfo TopicState::Describe() const {
  TopicInfo info;
  info.name = name;
  info.config = record.config;
  info.created_at = record.created_at;
  for (uint32_t i = 0; i < partitions.size(); ++i) {
    PartitionRecord r = partitions[i]->Snapshot();
    info.partitions.push_back({PartitionId(i), r.first_offset, r.end_offset, r.bytes,
                               r.end_offset.value() - r.first_offset.value()});
  }
  return info;
}

Status TopicRegistry::Load(const StorageDb& db) {
  std::string value;
  rocksdb::Status s = db.db()->Get({}, db.meta(), kNextTopicIdKey, &value);
  if (s.ok()) {
    ValueReader r(value);
    uint32_t next = 0;
    if (!r.ReadLittle32(next)) return Status::DataLoss("meta record next_topic_id is corrupt");
    next_topic_id_ = TopicId(next);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading topic metadata");
  }

  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator({}, db.meta()));
  for (it->Seek(kTopicMetaPrefix); it->Valid() && it->key().starts_with(kTopicMetaPrefix);
       it->Next()) {
    std::string name = it->key().ToString().substr(kTopicMetaPrefix.size());
    TopicRecord record;
    if (!DecodeTopicRecord(it->value().ToStringView(), record)) {
      return Status::DataLoss("metadata of topic '" + name + "' is corrupt");
    }
    auto topic = std::make_shared<TopicState>(name, record);
    for (uint32_t p = 0; p < record.config.partitions; ++p) {
      s = db.db()->Get({}, db.meta(), PartitionMetaKey(record.id, PartitionId(p)), &value);
      if (s.IsNotFound()) continue;  // created, never written: all zero
      if (!s.ok()) return FromRocks(s, "reading partition metadata of '" + name + "'");
      PartitionRecord pr;
      if (!DecodePartitionRecord(value, pr)) {
        return Status::DataLoss("metadata of partition " + std::to_string(p) + " of topic '" +
                                name + "' is corrupt");
      }
      topic->partitions[p]->Store(pr);
    }
    topics_.emplace(name, std::move(topic));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading topic metadata");
  return Status::Ok();
}

std::shared_ptr<TopicState> TopicRegistry::Find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<TopicState>> TopicRegistry::All() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<TopicState>> out;
  out.reserve(topics_.size());
  for (const auto& [name, topic] : topics_) out.push_back(topic);
  return out;
}

void TopicRegistry::Insert(std::shared_ptr<TopicState> topic) {
  std::unique_lock lock(mu_);
  std::string name = topic->name;
  topics_[std::move(name)] = std::move(topic);
}

void TopicRegistry::Erase(std::string_view name) {
  std::unique_lock lock(mu_);
  auto it = topics_.find(name);
  if (it != topics_.end()) {
    it->second->deleted.store(true);
    topics_.erase(it);
  }
}

}  // namespace broker::storage
