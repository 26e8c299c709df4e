// OffsetStore: Kafka consumer groups' committed offsets, kept as the engine's own group state. A
// Kafka group G committing on topic T is the engine group (T, G) with per_partition ordering
// (created by the first commit); a committed offset is that group's ack floor in the partition,
// moved forward or back with Broker::ResetGroup on that partition alone. So commits are persisted
// like any group's position, survive restarts, drive interest retention, and `brokerctl groups
// list/describe` shows the group and its lag.
//
// What the engine does not keep is held here in memory: the metadata string of each commit, and
// which partitions of a group this listener created were ever committed (OffsetFetch answers -1
// for the others, so the consumer applies its auto.offset.reset). After a restart every partition
// of an existing group answers its ack floor, with empty metadata.
//
// Thread safety: every method may be called from any thread; mu_ guards the in-memory maps, and
// engine calls run outside it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "kafka/errors.h"

namespace broker::kafka {

class OffsetStore {
 public:
  // Kafka's offset.metadata.max.bytes: longer metadata is refused with OFFSET_METADATA_TOO_LARGE.
  static constexpr size_t kMaxMetadataBytes = 4096;

  struct Commit {
    int32_t partition = 0;
    int64_t offset = 0;  // -2: the earliest retained offset; -1: the end
    std::optional<std::string> metadata;
  };
  struct Committed {
    int64_t offset = -1;  // -1: nothing committed
    std::optional<std::string> metadata;
    ErrorCode error = ErrorCode::kNone;
  };

  explicit OffsetStore(Broker& broker) : broker_(broker) {}

  // Commits offsets of `group` on `topic`; one error per commit, in order. A group the engine
  // holds with native members refuses with INCONSISTENT_GROUP_PROTOCOL and changes nothing.
  std::vector<ErrorCode> CommitTopic(const std::string& group, const std::string& topic,
                                     const std::vector<Commit>& commits);
  // The committed offsets of `partitions` (every partition of the topic if empty).
  std::vector<std::pair<int32_t, Committed>> Fetch(const std::string& group,
                                                   const std::string& topic,
                                                   const std::vector<int32_t>& partitions);
  // Topics on which `group` has committed (an engine group of that name exists).
  std::vector<std::string> Topics(const std::string& group);
  // Whether the engine group (topic, group) has native (Subscribe) members right now.
  bool HasNativeMembers(const std::string& topic, const std::string& group);

 private:
  struct TopicOffsets {
    bool created_here = false;  // this listener created the engine group
    std::map<int32_t, std::optional<std::string>> committed;  // partition -> metadata
  };

  Broker& broker_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, TopicOffsets> offsets_;  // guarded by mu_
};

}  // namespace broker::kafka
