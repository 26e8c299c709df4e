// TopicRegistry: the in-memory view of every topic and partition, loaded from the meta CF at open.
//
// Thread safety: the map is guarded by mu_ (readers take it shared). Only the LogWriter thread
// inserts, erases or changes partition bounds; PartitionState's atomics let any thread read the
// committed bounds without a lock. Lock order: TopicRegistry::mu_ is a leaf (nothing is called
// while holding it).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/status.h"
#include "broker/types.h"
#include "storage/keys.h"
#include "storage/storage_db.h"
#include "storage/topic_meta.h"

namespace broker::storage {

// Committed bounds of one partition. Written by the writer thread after a successful commit.
struct PartitionState {
  std::atomic<uint64_t> first_offset{0};
  std::atomic<uint64_t> end_offset{0};
  std::atomic<uint64_t> bytes{0};
  // Retention passes only (one at a time): bytes deleted since the deleted range was last
  // compacted. In memory: after a restart RocksDB's own compactions reclaim what was counted.
  uint64_t deleted_since_compaction = 0;

  PartitionRecord Snapshot() const {
    return {Offset(first_offset.load()), Offset(end_offset.load()), bytes.load()};
  }
  void Store(const PartitionRecord& r) {
    bytes.store(r.bytes);
    first_offset.store(r.first_offset.value());
    // seq_cst: pairs with AppendNotifier's waiter count (see append_notifier.h).
    end_offset.store(r.end_offset.value());
  }
};

struct TopicState {
  TopicState(std::string n, TopicRecord r);
  const std::string name;
  const TopicRecord record;
  std::vector<std::unique_ptr<PartitionState>> partitions;  // fixed at creation
  // Writer thread only: next partition for a message without key.
  uint32_t round_robin = 0;
  // Set by the writer when the topic is deleted, so holders of a stale pointer can tell.
  std::atomic<bool> deleted{false};

  TopicInfo Describe() const;
};

class TopicRegistry {
 public:
  // Loads every topic and partition bound from the meta CF. kDataLoss on an undecodable record.
  Status Load(const StorageDb& db);

  std::shared_ptr<TopicState> Find(std::string_view name) const;
  std::vector<std::shared_ptr<TopicState>> All() const;  // sorted by name

  // Writer thread only.
  void Insert(std::shared_ptr<TopicState> topic);
  void Erase(std::string_view name);
  TopicId next_topic_id() const { return next_topic_id_; }
  void set_next_topic_id(TopicId id) { next_topic_id_ = id; }

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<TopicState>, std::less<>> topics_;  // guarded by mu_
  TopicId next_topic_id_{1};  // writer thread only (and Load)
};

}  // namespace broker::storage
