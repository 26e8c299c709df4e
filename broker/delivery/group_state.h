// GroupState: the state machine of one consumer group (broker/delivery.h): per-partition cursors,
// unsettled entries, leases, delayed redeliveries, lease runs, members' credit, partition
// ownership, dead letters and the ordering rules. It holds no mutex, writes nothing, reads no
// clock: every call that depends on time takes `now`, and what a call changes that others must act
// on comes back as Effects (members to wake, messages to dead-letter) or is noted as Changes
// (records to persist, taken by GroupStore). Records of the log are read through a LogSource the
// caller supplies, so a test drives it with a vector of records at unit-test speed.
//
// Thread safety: none; a single-threaded value. Group (the concurrent shell) owns one under its
// mutex.
//
// Persistence rules (what Changes mean): every state change notes what it changed (a message
// record, a lease run, a cursor, a dead-letter record). GroupStore writes the current state of each
// noted one (a put, or a delete once there is nothing to say). A write that fails gives its
// Changes back (Restore), so the next write carries them again: no change is lost to a failed
// write, and since every write carries current state, a late retry never overwrites a newer one.
// First deliveries of consecutive offsets granted together are one lease-run record
// (LeaseRunRecord) rather than one message record each; acking one flips its bit in the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/delivery.h"
#include "broker/status.h"
#include "broker/types.h"
#include "delivery/group_records.h"

namespace broker::delivery {

// The log as the state machine sees it. Implemented by Group over RocksDB (with its read-ahead)
// and by tests over memory.
class LogSource {
 public:
  virtual ~LogSource() = default;
  // Committed bounds of `partition`: retention deletes below first, publishes append at end.
  virtual uint64_t FirstOffset(uint32_t partition) = 0;
  virtual uint64_t EndOffset(uint32_t partition) = 0;
  // The record at `offset`; nullopt if retention deleted it (below the partition's first offset);
  // an error if it could not be read (I/O error, corrupt batch) or is missing above the first
  // offset. Only nullopt may settle a message (as expired): after an error it stays unsettled.
  virtual Result<std::optional<Record>> ReadOne(uint32_t partition, uint64_t offset) = 0;
  // Records of `partition` from `from` on (at most `max_records`), as ReadPartition returns them.
  virtual Result<ReadResult> ReadFrom(uint32_t partition, uint64_t from, size_t max_records) = 0;
};

// A message the state machine has moved to "being dead-lettered": its dead letter (the original
// plus `dead`) is to be appended to the dead-letter topic, and the original settled, in one write.
// The write's outcome goes back through FinishDeadLetter.
struct DeadLetterJob {
  uint32_t partition = 0;
  uint64_t offset = 0;
  DeadRecord dead;
  Record original;
  // The lease run that persisted the message until it became dead-pending (its first offset), if
  // one did. The dead-letter write also writes that run as it is then (the message released), so
  // it settles the message on its own even if the group write that released it failed.
  std::optional<uint64_t> run;
};

// What a call changed that the shell acts on (records to persist are Changes, noted apart).
struct Effects {
  enum class Wake : uint8_t {
    kNone,
    kWaiters,  // members waiting in Poll (credit freed)
    kMembers,  // every member, ready callbacks too (something became available)
  };
  Wake wake = Wake::kNone;
  std::vector<DeadLetterJob> dead_letters;

  void WakeWaiters() {
    if (wake == Wake::kNone) wake = Wake::kWaiters;
  }
  void WakeMembers() { wake = Wake::kMembers; }
};

// Records to persist: which ones changed, not their contents (GroupStore encodes the state they
// have when it writes).
struct Changes {
  std::vector<uint32_t> cursors;
  std::vector<std::pair<uint32_t, uint64_t>> runs;      // (partition, first offset)
  std::vector<std::pair<uint32_t, uint64_t>> messages;  // (partition, offset)
  std::vector<uint64_t> dead;                           // dlq offsets
  bool empty() const { return cursors.empty() && runs.empty() && messages.empty() && dead.empty(); }
};

// A lease as a delivery reports it.
struct LeaseGrant {
  uint32_t attempt = 0;
  TimePoint expires{};
};

class GroupState {
 public:
  // `topic` and `group` name the group in error messages.
  GroupState(std::string topic, std::string group, GroupConfig config, uint32_t partitions);

  uint32_t partitions() const { return static_cast<uint32_t>(cursors_.size()); }
  const GroupConfig& config() const { return config_; }

  // ---- Loading, before the first other call ----
  void LoadCursor(uint32_t partition, const CursorRecord& cursor);
  void LoadMessage(uint32_t partition, uint64_t offset, const MessageRecord& message);
  void LoadDead(uint64_t dlq_offset, const DeadRecord& dead);
  // After every LoadMessage: an offset with a message record is not the run's.
  void LoadLeaseRun(uint32_t partition, uint64_t first, const LeaseRunRecord& run);
  // Leases of the process that wrote the state are gone with it: they expire at `now`.
  void FinishLoad(TimePoint now);
  // A new group: each partition's cursor at `starts[p]` (not noted as a change: the caller writes
  // the group's first records itself).
  void InitCursors(const std::vector<uint64_t>& starts);

  // ---- Members ----
  Status Join(const std::string& member, uint32_t max_in_flight, Effects& effects);
  // Its leases go back to the group at once; one that used its last attempt is dead-lettered.
  void Leave(const std::string& member, TimePoint now, LogSource& log, Effects& effects);
  // Leave without giving its leases back (the group is closed: they expire after a restart).
  void RemoveMember(const std::string& member, Effects& effects);
  bool HasMember(const std::string& member) const { return members_.contains(member); }
  size_t member_count() const { return members_.size(); }
  // Whether `member` may take one more lease.
  bool HasCredit(const std::string& member) const;

  // ---- Delivery ----
  // Leases up to `max` messages to `member` (within its credit), in the group's ordering, reading
  // them through `log`; `out` gets them. Returns the first read error met (the messages it
  // concerns stay unsettled), or Ok.
  Status Select(const std::string& member, size_t max, TimePoint now, LogSource& log,
                std::vector<Delivery>& out, Effects& effects);
  // Whether any partition has something to lease (available, or not yet read).
  bool AnythingToLease(LogSource& log) const;
  // After the write of Select's leases failed: hands them back (attempts stay counted).
  void UndoGrants(const std::string& member, const std::vector<Delivery>& granted);
  // Expires due leases and makes due messages available. Returns whether anything changed (then
  // members may have something new to lease; waking them is the caller's choice).
  bool ProcessDue(TimePoint now, LogSource& log, Effects& effects);
  // Unsettled messages retention deleted are settled and counted as expired.
  void DropExpired(LogSource& log);
  // When the next lease expires or delayed message falls due, if any does.
  std::optional<TimePoint> NextDue() const;

  // ---- Settling. `attempt` 0: whichever lease the member holds. ----
  Status Ack(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
             TimePoint now, Effects& effects);
  Status Nack(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
              std::optional<std::chrono::milliseconds> delay, const std::string& error,
              TimePoint now, LogSource& log, Effects& effects);
  Result<TimePoint> Extend(const std::string& member, PartitionId partition, Offset offset,
                           uint32_t attempt, TimePoint now);
  // An error (the original could not be read) changes nothing.
  Status Reject(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
                const std::string& reason, TimePoint now, LogSource& log, Effects& effects);
  Status Release(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
                 TimePoint now, Effects& effects);
  // The outcome of a DeadLetterJob's write: `dlq_offset` where it was appended, or nullopt if the
  // write failed (tried again later).
  void FinishDeadLetter(uint32_t partition, uint64_t offset, const DeadRecord& dead,
                        std::optional<uint64_t> dlq_offset, TimePoint now, Effects& effects);
  // A DeadLetterJob that could not be handed to the writer: tried again after a delay.
  void RetryDeadLetterLater(uint32_t partition, uint64_t offset, TimePoint now);
  // The DeadLetterJob's write was handed to the writer. From now on it is the last word on the
  // message's record: it deletes the record if it commits, and if it fails the message is noted
  // again (FinishDeadLetter). So no later group write carries that record (TakeChanges leaves it
  // out): one queued after the dead-letter write commits after it, and would put back the record
  // it deleted (a second dead letter after a restart).
  void DeadLetterQueued(uint32_t partition, uint64_t offset);

  // ---- Direct hand-off (ordering none): records next in line, leased in their own commit ----
  bool AcceptsHandOff() const { return config_.ordering == Ordering::kNone; }
  // Whether `offset` is the next record the group reads in `partition`.
  bool IsNext(uint32_t partition, uint64_t offset) const {
    return partition < cursors_.size() && cursors_[partition].next == offset;
  }
  // The first offset of `partition` the group has not read yet.
  uint64_t next(uint32_t partition) const { return cursors_[partition].next; }
  // Leases the record at `offset` (next in line) to `member`: returns its message record, which
  // the append's commit writes (with CursorOf(partition)); not noted as a change.
  const MessageRecord& HandOff(const std::string& member, uint32_t partition, uint64_t offset,
                               const std::optional<std::string>& key, TimePoint now);
  // The append that handed records of `partition` off committed: the next group write carries
  // the partition's cursor too (a group write shipped earlier may commit after the append).
  void HandOffCommitted(uint32_t partition);
  // The commit failed: the record does not exist; forget its entry and read it again later.
  void UndoHandOff(uint32_t partition, uint64_t offset);
  // The lease `member` holds on the message, if it still does.
  std::optional<LeaseGrant> LeaseOf(const std::string& member, uint32_t partition,
                                    uint64_t offset) const;

  // ---- Views and administration ----
  // Everything but each member's `waiting` (the shell knows who waits).
  GroupInfo Describe(TimePoint now, LogSource& log);
  MessageGroupState StateOf(PartitionId partition, Offset offset, LogSource& log) const;
  // Dead letters not purged or redriven, from `from` on, at most `limit` (0: all).
  std::vector<std::pair<uint64_t, DeadRecord>> DeadLetters(uint64_t from, size_t limit) const;
  // Every original is read before anything changes: a read error changes nothing.
  Result<RedriveResult> Redrive(const RedriveOptions& options, TimePoint now, LogSource& log,
                                Effects& effects);
  uint64_t Purge(const DeadLetterFilter& filter, TimePoint now);
  // Retention of the dead-letter topic, whose end offset is `dlq_end`: the offset below which
  // the group holds no letter (none listed: every one below was purged or redriven). Nullopt
  // while a dead-letter write is in progress: the letter it appends is not named yet.
  std::optional<uint64_t> DeadLetterFloor(uint64_t dlq_end) const;
  // Moves partition p's cursor to `positions[p]`, dropping its unsettled state; a partition
  // without a position is left alone. Needs no members.
  Status Reset(const std::vector<std::optional<uint64_t>>& positions);
  // Per partition, the lowest unsettled offset (or the cursor, if none is).
  std::vector<uint64_t> AckFloors() const;
  const DeliveryCounters& counters() const { return counters_; }

  // ---- Persistence (GroupStore) ----
  bool HasChanges() const;
  // Changes worth a write of their own (Options::ack_flush_batch counts these).
  size_t ChangeWeight() const { return messages_.size() + dead_changed_.size() + releases_; }
  // Leaves out the record of a message whose dead-letter write is queued (DeadLetterQueued).
  Changes TakeChanges();
  // A write that carried `changes` failed: they are noted again.
  void Restore(const Changes& changes);
  // What to write for each change; null: delete the record.
  const MessageRecord* MessageRecordOf(uint32_t partition, uint64_t offset) const;
  const LeaseRunRecord* RunRecordOf(uint32_t partition, uint64_t first) const;
  const DeadRecord* DeadRecordOf(uint64_t dlq_offset) const;
  CursorRecord CursorOf(uint32_t partition) const;
  // Whether a dead-letter write is in progress.
  bool DeadLettering() const;

 private:
  enum class State : uint8_t { kAvailable, kLeased, kDelayed, kDeadPending };
  using Timers = std::multimap<TimePoint, std::pair<uint32_t, uint64_t>>;
  static constexpr uint64_t kNoRun = UINT64_MAX;
  struct Entry {
    State state = State::kAvailable;
    MessageRecord record;  // persisted fields; record.state mirrors `state` except kDeadPending
    Timers::iterator timer;
    bool has_timer = false;
    // First offset of the lease run that persists this entry (kNoRun: a message record, or
    // nothing yet). An entry in a run has no message record.
    uint64_t run = kNoRun;
    bool has_message_record = false;  // written (or queued) as a message record
    // Why a dead-letter write that failed was for ("rejected", "max_deliveries"): the message is
    // dead-lettered again once due, not delivered again. In memory only: after a restart a
    // rejected message waiting for that retry is delivered again (its record says delayed).
    std::string dead_letter_reason;
    // Dead-pending and its dead-letter write is queued (DeadLetterQueued).
    bool dead_letter_queued = false;
  };
  struct LeaseRun {
    LeaseRunRecord record;
    uint32_t live = 0;   // offsets not released
    bool dirty = false;  // changed since last taken (listed in runs_)
  };
  struct Cursor {
    uint64_t next = 0;     // first offset never read by the group
    uint64_t expired = 0;  // unsettled offsets lost to retention
    std::map<uint64_t, Entry> unsettled;
    std::set<uint64_t> available;
    std::unordered_map<uint64_t, std::set<uint64_t>> by_key;  // per_key: unsettled offsets per key
    std::map<std::string, uint64_t> leased_by;                // member -> leases in this partition
    uint64_t fresh = 0;          // available, never delivered (NeverDelivered)
    uint64_t redeliverable = 0;  // available, delivered before
    uint64_t leased = 0, delayed = 0, dead_pending = 0;
    std::map<uint64_t, LeaseRun> runs;  // first offset -> run with offsets not yet released
    uint64_t open_run = kNoRun;         // the run the next grant may extend
    uint64_t tombstones_swept_to = 0;   // purged tombstones below this were looked at (DropExpired)
  };
  struct Member {
    uint32_t max_in_flight = 0;
    uint64_t leased = 0;
  };

  // Counted as backlog (PartitionLag::backlog) while available.
  static bool NeverDelivered(const MessageRecord& record);
  Result<Entry*> FindLeased(const std::string& member, PartitionId partition, Offset offset,
                            uint32_t attempt, TimePoint now);
  void Detach(Cursor& c, const Entry& e);
  void Attach(uint32_t partition, uint64_t offset, Cursor& c, Entry& e);
  void SetState(uint32_t partition, uint64_t offset, Entry& e, State state);
  // `note_delete`: the message record is to be deleted by the next write (false when the write
  // that settles it deletes it, or it was never written).
  void Settle(uint32_t partition, uint64_t offset, bool note_delete);
  void SettleExpired(uint32_t partition, uint64_t offset);
  Entry& AddEntry(uint32_t partition, uint64_t offset, const std::optional<std::string>& key);
  // Writes the entry's state as its message record (taking it out of its lease run, if any).
  void NotePut(uint32_t partition, uint64_t offset, Entry& e);
  // Persists a grant: into a lease run if it is a first delivery without a message record.
  void PersistGrant(uint32_t partition, uint64_t offset, Entry& e);
  // The entry's offset leaves its lease run (settled, or now kept as a message record).
  void ReleaseFromRun(uint32_t partition, uint64_t offset, Entry& e);
  void MarkRunDirty(uint32_t partition, uint64_t first, LeaseRun& run);
  void NoteCursor(uint32_t partition) { cursors_changed_.insert(partition); }
  void DropExpired(uint32_t partition, LogSource& log);
  // Lease expiry and nacks: redeliver after `delay`, or dead-letter after max_deliveries.
  void Fail(uint32_t partition, uint64_t offset, Entry& e, std::chrono::microseconds delay,
            TimePoint now, LogSource& log, Effects& effects);
  // Reads the original and moves the message to "being dead-lettered" (a DeadLetterJob in
  // `effects`), or settles it as expired if retention deleted it. An error (the original could
  // not be read) changes nothing.
  Status StartDeadLetter(uint32_t partition, uint64_t offset, Entry& e, const std::string& reason,
                         TimePoint now, LogSource& log, Effects& effects);
  // StartDeadLetter, or if it cannot start, RetryDeadLetterLater.
  void DeadLetterOrRetry(uint32_t partition, uint64_t offset, Entry& e, TimePoint now,
                         LogSource& log, Effects& effects);
  void RetryLater(uint32_t partition, uint64_t offset, Entry& e, TimePoint now);
  // The state change of a grant (attempt counted), without persisting it.
  void Lease(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
             TimePoint now);
  // `now` is the poll's time, the same for all its grants (so they can share a lease run).
  void Grant(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
             Record record, TimePoint now, std::vector<Delivery>& out);
  // per_key: whether `offset` (available) may be leased now: it is its key's oldest unsettled
  // message and no message of its key is leased, delayed or being dead-lettered.
  bool KeyIsFree(const Cursor& c, uint64_t key_hash, uint64_t offset) const;
  // Whether `member` may lease from `partition` now (per_partition: it owns it, and the previous
  // owner's leases there are settled).
  bool MayLeaseFrom(const std::string& member, uint32_t partition) const;
  void AssignPartitions();
  PartitionLag LagOf(uint32_t partition, TimePoint now, LogSource& log);
  static uint64_t AckFloorOf(const Cursor& c);
  std::chrono::microseconds BackoffFor(uint32_t attempts);

  const std::string topic_;
  const std::string group_;
  const GroupConfig config_;

  std::vector<Cursor> cursors_;  // one per partition
  Timers lease_timers_;
  Timers due_timers_;
  std::map<std::string, Member> members_;
  std::vector<std::string> join_order_;
  std::vector<std::string> owners_;      // per_partition: partition -> member
  std::map<uint64_t, DeadRecord> dead_;  // dlq offset -> letter
  // Changes since the last TakeChanges. Message records: (partition, offset), duplicates allowed;
  // the entry's record is written, or deleted when the entry has none (settled, or in a run).
  std::vector<std::pair<uint32_t, uint64_t>> messages_;
  std::vector<uint64_t> dead_changed_;  // dead-letter records changed (purged, redriven)
  std::set<uint32_t> cursors_changed_;
  // Lease runs changed or emptied: (partition, first offset).
  std::vector<std::pair<uint32_t, uint64_t>> runs_;
  size_t releases_ = 0;          // run releases (acks) since the last TakeChanges
  uint32_t next_partition_ = 0;  // round-robin start of Select
  std::mt19937_64 jitter_rng_{0x5eed};
  DeliveryCounters counters_;
};

}  // namespace broker::delivery
