// GroupStore: turns a GroupState's changes into records of the groups column family
// (group_records.h, docs/storage_format.md) and hands them to the LogWriter. Every write carries
// the current state of each changed record; a write that fails gives every change it carried
// back to the state (GroupState::Restore), so the next write carries them again: nothing is lost
// to a failed write, and a late retry never overwrites a newer change.
//
// Thread safety: none of its own. Group calls it under Group::mu_; the completions it hands the
// writer run on the writer thread and reach the state only through the callback Group gives.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "broker/options.h"
#include "delivery/group_records.h"
#include "delivery/group_state.h"
#include "storage/log_writer.h"
#include "storage/storage_db.h"

namespace broker::delivery {

class GroupStore {
 public:
  GroupStore(const storage::StorageDb* db, storage::LogWriter* writer, TopicId topic,
             std::string group);

  // Called on the writer thread when a write failed, with what it carried: the caller takes its
  // lock and calls Restore.
  using OnFailed = std::function<void(const Changes&)>;

  // Writes `state`'s changes. `done` (optional) runs with the outcome once committed (on the
  // writer thread), or at once if the writer refused it (shutting down). With `barrier` a request
  // goes to the writer even if nothing changed, so `done` also runs after everything queued before
  // it (such as dead-letter writes) is committed.
  void Ship(GroupState& state, Durability durability, std::function<void(const Status&)> done,
            const OnFailed& on_failed, bool barrier = false);
  // A write that carried `changes` failed.
  void Restore(GroupState& state, const Changes& changes);
  // Writes failed so far (CommittedAckFloors compares them across its barrier).
  uint64_t failed_writes() const { return failed_writes_; }

  // The records of a new group's cursors.
  std::vector<std::pair<std::string, std::string>> CursorPuts(const GroupState& state) const;
  // Into an append's batch (direct hand-off): the lease of `offset` and the partition's cursor.
  void PutHandOff(rocksdb::WriteBatch& batch, uint32_t partition, uint64_t offset,
                  const MessageRecord& lease) const;
  void PutCursor(rocksdb::WriteBatch& batch, uint32_t partition, const CursorRecord& cursor) const;
  // The append of `job`'s dead letter to `dlq_topic`, which also settles the original (one
  // atomic write): it deletes the message's record and writes its lease run (if `job.run`) as
  // `state` has it now. The caller sets `done`, and once the writer took the request, tells
  // `state` (GroupState::DeadLetterQueued).
  storage::AppendRequest DeadLetterRequest(const GroupState& state, const DeadLetterJob& job,
                                           const std::string& topic,
                                           const std::string& dlq_topic,
                                           Durability durability) const;

 private:
  const storage::StorageDb* const db_;
  storage::LogWriter* const writer_;
  const TopicId topic_;
  const std::string group_;
  uint64_t failed_writes_ = 0;
};

}  // namespace broker::delivery
