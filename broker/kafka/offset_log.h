// OffsetLog: what the listener must remember about Kafka groups beyond the engine group's own
// state, persisted in the internal topic `__kafka_offsets` (1 partition, kept forever), as
// Apache Kafka keeps commits in __consumer_offsets:
//   - which engine groups the listener created for Kafka, identified by the engine group's
//     creation time, so OffsetCommit never moves a native group (nor a native group that took the
//     name after a Kafka group was deleted);
//   - per partition of such a group, that it was committed and the metadata of its last commit,
//     so OffsetFetch answers -1 for a partition never committed and returns the metadata, also
//     after a restart.
// A record is written only when one of those changes (a group created, a partition's first commit,
// other metadata): committing the same metadata again, the usual case, writes nothing here. The
// records are read back once, on first use. Layout: docs/kafka.md ("Committed offsets").
//
// Thread safety: every method may be called from any thread; mu_ guards the map and is held
// across the engine calls (reads of the topic at load, the rare appends), so records are appended
// in the order the map changes.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/broker.h"

namespace broker::kafka {

class OffsetLog {
 public:
  static constexpr std::string_view kTopic = "__kafka_offsets";

  // Metadata per committed partition; a partition absent was never committed.
  using Committed = std::map<int32_t, std::optional<std::string>>;

  explicit OffsetLog(Broker& broker) : broker_(broker) {}

  // Whether the engine group (topic, group) created at `created_at` is one the listener created
  // for Kafka. An error if the topic cannot be read.
  Result<bool> IsKafkaGroup(const std::string& topic, const std::string& group,
                            TimePoint created_at);
  // The committed partitions of that group (empty if it is not a Kafka group).
  Result<Committed> CommittedPartitions(const std::string& topic, const std::string& group,
                                        TimePoint created_at);
  // Records that the listener created the engine group (topic, group) at `created_at`.
  Status AddGroup(const std::string& topic, const std::string& group, TimePoint created_at);
  // Records commits of a Kafka group: partition -> metadata. Only partitions whose record
  // changes are written, all in one atomic append.
  Status AddCommits(const std::string& topic, const std::string& group, TimePoint created_at,
                    const Committed& commits);

 private:
  struct GroupRecord {
    TimePoint created_at{};
    Committed committed;
  };
  using Key = std::pair<std::string, std::string>;  // topic, group

  Status LoadLocked();
  void ApplyLocked(const Record& record);
  Status AppendLocked(std::vector<Message> messages);

  Broker& broker_;
  std::mutex mu_;
  bool loaded_ = false;                // guarded by mu_
  std::map<Key, GroupRecord> groups_;  // guarded by mu_
};

}  // namespace broker::kafka
