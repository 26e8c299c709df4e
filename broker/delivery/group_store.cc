#include "delivery/group_store.h"

#include <memory>
#include <optional>

#include "delivery/dead_letters.h"

namespace broker::delivery {
namespace {

// One put (or, without a value, delete) of the groups CF.
struct PendingOp {
  std::string key;
  std::optional<std::string> value;

  void AddTo(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* cf) const {
    if (value) {
      batch.Put(cf, key, *value);
    } else {
      batch.Delete(cf, key);
    }
  }
};

}  // namespace

GroupStore::GroupStore(const storage::StorageDb* db, storage::LogWriter* writer, TopicId topic,
                       std::string group)
    : db_(db), writer_(writer), topic_(topic), group_(std::move(group)) {}

void GroupStore::Ship(GroupState& state, Durability durability,
                      std::function<void(const Status&)> done, const OnFailed& on_failed,
                      bool barrier) {
  auto changes = std::make_shared<Changes>(state.TakeChanges());
  std::vector<PendingOp> ops;
  for (const auto& [p, first] : changes->runs) {
    std::string key = LeaseRunKey(topic_, group_, PartitionId(p), Offset(first));
    const LeaseRunRecord* run = state.RunRecordOf(p, first);
    ops.push_back({std::move(key), run ? std::optional(EncodeLeaseRunRecord(*run)) : std::nullopt});
  }
  for (const auto& [p, offset] : changes->messages) {
    std::string key = MessageKey(topic_, group_, PartitionId(p), Offset(offset));
    const MessageRecord* message = state.MessageRecordOf(p, offset);
    ops.push_back(
        {std::move(key), message ? std::optional(EncodeMessageRecord(*message)) : std::nullopt});
  }
  for (uint64_t dlq_offset : changes->dead) {
    const DeadRecord* dead = state.DeadRecordOf(dlq_offset);
    ops.push_back({DeadKey(topic_, group_, Offset(dlq_offset)),
                   dead ? std::optional(EncodeDeadRecord(*dead)) : std::nullopt});
  }
  for (uint32_t p : changes->cursors) {
    ops.push_back(
        {CursorKey(topic_, group_, PartitionId(p)), EncodeCursorRecord(state.CursorOf(p))});
  }
  if (ops.empty() && !barrier) {
    if (done) done(Status::Ok());
    return;
  }
  storage::AppendRequest request;
  request.durability = durability;
  request.extra = [ops = std::move(ops), cf = db_->groups()](rocksdb::WriteBatch& batch,
                                                             const std::vector<PublishResult>&) {
    for (const PendingOp& op : ops) op.AddTo(batch, cf);
  };
  request.done = [changes, done, on_failed](Result<std::vector<PublishResult>> result) {
    // Nothing of it reached disk: the next write carries it all again, as it is by then.
    if (!result.ok()) on_failed(*changes);
    if (done) done(result.status());
  };
  if (Status s = writer_->Append(std::move(request)); !s.ok()) {
    // Shutting down: nothing more reaches disk. A restart redelivers what was not persisted.
    Restore(state, *changes);
    if (done) done(s);
  }
}

void GroupStore::Restore(GroupState& state, const Changes& changes) {
  ++failed_writes_;
  state.Restore(changes);
}

std::vector<std::pair<std::string, std::string>> GroupStore::CursorPuts(
    const GroupState& state) const {
  std::vector<std::pair<std::string, std::string>> puts;
  for (uint32_t p = 0; p < state.partitions(); ++p) {
    puts.emplace_back(CursorKey(topic_, group_, PartitionId(p)),
                      EncodeCursorRecord(state.CursorOf(p)));
  }
  return puts;
}

void GroupStore::PutHandOff(rocksdb::WriteBatch& batch, uint32_t partition, uint64_t offset,
                            const MessageRecord& lease) const {
  batch.Put(db_->groups(), MessageKey(topic_, group_, PartitionId(partition), Offset(offset)),
            EncodeMessageRecord(lease));
}

void GroupStore::PutCursor(rocksdb::WriteBatch& batch, uint32_t partition,
                           const CursorRecord& cursor) const {
  batch.Put(db_->groups(), CursorKey(topic_, group_, PartitionId(partition)),
            EncodeCursorRecord(cursor));
}

storage::AppendRequest GroupStore::DeadLetterRequest(const GroupState& state,
                                                     const DeadLetterJob& job,
                                                     const std::string& topic,
                                                     const std::string& dlq_topic,
                                                     Durability durability) const {
  storage::AppendRequest request;
  request.topic = dlq_topic;
  request.internal = true;
  request.durability = durability;
  request.messages.push_back(BuildDeadLetterMessage(job.original, topic, group_, job.dead));
  // The run as it is now: the group write that took the message out of it was queued before this
  // one, but it may have failed; later group writes carry the run as it is then.
  std::optional<PendingOp> run;
  if (job.run) {
    const LeaseRunRecord* record = state.RunRecordOf(job.partition, *job.run);
    run = PendingOp{LeaseRunKey(topic_, group_, PartitionId(job.partition), Offset(*job.run)),
                    record ? std::optional(EncodeLeaseRunRecord(*record)) : std::nullopt};
  }
  request.extra =
      [cf = db_->groups(),
       message_key = MessageKey(topic_, group_, PartitionId(job.partition), Offset(job.offset)),
       run = std::move(run), topic_id = topic_, group = group_,
       dead = job.dead](rocksdb::WriteBatch& batch, const std::vector<PublishResult>& positions) {
        // Appending the dead letter and settling the original are one atomic write.
        batch.Delete(cf, message_key);
        if (run) run->AddTo(batch, cf);
        batch.Put(cf, DeadKey(topic_id, group, positions.at(0).offset), EncodeDeadRecord(dead));
      };
  return request;
}

}  // namespace broker::delivery
