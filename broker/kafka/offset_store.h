// OffsetStore: Kafka consumer groups' committed offsets, kept as the engine's own group state. A
// Kafka group G committing on topic T is the engine group (T, G) with per_partition ordering
// (created by the first commit); a committed offset is that group's ack floor in the partition,
// moved forward or back with Broker::ResetGroup on that partition alone. So commits are persisted
// like any group's position, survive restarts, drive interest retention, and `brokerctl groups
// list/describe` shows the group and its lag.
//
// Only engine groups the listener created are moved: a native group of the same name, even with
// no member subscribed right now, keeps its unsettled messages (a commit would settle them all).
// Which groups those are, which partitions were committed and the commit metadata are kept by the
// OffsetLog (offset_log.h), persisted, so OffsetFetch answers -1 for a partition never committed,
// also after a restart.
//
// Thread safety: every method may be called from any thread; commit_mu_ serializes commits (the
// engine calls of one commit and its OffsetLog record), so two commits of a group cannot
// interleave. Fetch takes no lock of its own.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "kafka/errors.h"
#include "kafka/offset_log.h"

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

  explicit OffsetStore(Broker& broker) : broker_(broker), log_(broker) {}

  // Commits offsets of `group` on `topic`; one error per commit, in order. An engine group the
  // listener did not create, or one native members hold, refuses with INCONSISTENT_GROUP_PROTOCOL
  // and changes nothing.
  std::vector<ErrorCode> CommitTopic(const std::string& group, const std::string& topic,
                                     const std::vector<Commit>& commits);
  // The committed offsets of `partitions` (every partition of the topic if empty).
  std::vector<std::pair<int32_t, Committed>> Fetch(const std::string& group,
                                                   const std::string& topic,
                                                   const std::vector<int32_t>& partitions);
  // Topics on which `group` has committed (an engine group of that name exists).
  std::vector<std::string> Topics(const std::string& group);
  // Whether the engine group (topic, group) exists and is not for Kafka members: the listener did
  // not create it, or native (Subscribe) members hold it right now.
  bool IsNativeGroup(const std::string& topic, const std::string& group);

 private:
  // The engine group (topic, group) a commit moves, created and recorded if missing; kNone, or the
  // error refusing the commit.
  ErrorCode KafkaGroup(const std::string& topic, const std::string& group, GroupInfo& out);
  bool HasNativeMembers(const std::string& topic, const std::string& group);

  Broker& broker_;
  OffsetLog log_;
  std::mutex commit_mu_;
};

}  // namespace broker::kafka
