// Group: one consumer group on one topic, with its members, per-partition cursors, leases,
// delayed redeliveries and dead letters. The state machine of broker/delivery.h lives here.
//
// Thread safety: every member function takes mu_. Nothing waits on the LogWriter while holding
// mu_ (Poll, Redrive and Flush release it first), because the writer thread itself takes mu_ when
// a dead-letter write completes. Lock order: Group::mu_ -> LogWriter's queue mutex.
//
// Persistence: every state change marks what it changed (a message record, a lease run, a cursor,
// a dead-letter record) dirty; Ship writes the current state of each dirty one (a put, or a
// delete once there is nothing to say) and hands the write to the LogWriter. A write that fails
// marks everything it carried dirty again, so the next Ship writes it: no change is lost to a
// failed write, and since every write carries current state, a late retry never overwrites a
// newer change. Lease grants are shipped and committed before Poll returns them; acks, nacks and
// extends are shipped in batches (Options::ack_flush_batch / ack_flush_interval). First deliveries of consecutive
// offsets granted together are one lease-run record (LeaseRunRecord) rather than one message
// record each; acking one of them flips its bit in the run, and Ship writes each changed run once
// (deleting it when no offset is left), so a poll of 100 costs one put, and its acks a few.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/clock.h"
#include "broker/delivery.h"
#include "broker/options.h"
#include "delivery/group_records.h"
#include "storage/append_notifier.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker::delivery {

// What a group needs from the rest of the engine. Constant; the pointees outlive every Group.
struct DeliveryContext {
  const storage::StorageDb* db = nullptr;
  storage::LogWriter* writer = nullptr;
  storage::TopicRegistry* registry = nullptr;
  std::shared_ptr<Clock> clock;
  Durability durability = Durability::kSync;
  size_t ack_flush_batch = 1024;
  // Tells the timer thread that a group has unshipped changes (so it flushes them soon).
  std::function<void()> wake_timers;
  // Bytes of log batches the broker's groups keep between polls (Cursor::read_ahead), shared by
  // every copy of the context; at most kReadAheadBudget.
  std::shared_ptr<std::atomic<size_t>> read_ahead_bytes =
      std::make_shared<std::atomic<size_t>>(0);
};

class Group : public std::enable_shared_from_this<Group> {
 public:
  // Past this many bytes of kept log batches (about 1 MiB each) across the broker, a poll does not
  // keep the batch it read from; the next poll of that partition fetches it again.
  static constexpr size_t kReadAheadBudget = 64 << 20;

  Group(DeliveryContext context, std::shared_ptr<storage::TopicState> topic, std::string name,
        GroupRecord record);
  ~Group();

  const std::string& name() const { return name_; }
  const std::string& topic_name() const { return record_.topic; }
  storage::TopicId topic_id() const { return topic_->record.id; }
  const std::string& dlq_topic() const { return dlq_topic_; }
  std::chrono::milliseconds ack_timeout() const { return record_.config.ack_timeout; }

  // ---- Loading, before the group is shared ----
  void LoadCursor(PartitionId partition, const CursorRecord& cursor);
  void LoadMessage(PartitionId partition, Offset offset, const MessageRecord& message);
  void LoadDead(Offset dlq_offset, const DeadRecord& dead);
  // After every LoadMessage of the group: an offset with a message record is not the run's.
  void LoadLeaseRun(PartitionId partition, Offset first, const LeaseRunRecord& run);
  // Leases of the process that wrote the state are gone with it: they expire now.
  void FinishLoad();
  // Puts for a new group's cursors (start position resolved against the partitions' bounds).
  void InitCursors(std::vector<std::pair<std::string, std::string>>& puts);

  // ---- Members ----
  Status Join(const std::string& member, uint32_t max_in_flight);
  void Leave(const std::string& member);
  void SetReadyCallback(const std::string& member, std::function<void()> ready);
  size_t member_count() const;

  // ---- Delivery (see Subscription) ----
  Result<std::vector<Delivery>> Poll(const std::string& member, size_t max,
                                     std::chrono::milliseconds timeout);
  // `attempt`: the delivery whose lease is settled (Delivery::attempt); 0: whichever lease the
  // member holds.
  // With `persisted`, the ack is shipped at once (with the broker's durability) rather than
  // batched, and `persisted` runs with the write's outcome (on the writer thread).
  Status Ack(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
             std::function<void(const Status&)> persisted = nullptr);
  // Subscription::AckPersisted: Ack, then waits until its write is committed.
  Status AckPersisted(const std::string& member, PartitionId partition, Offset offset,
                      uint32_t attempt);
  Status Nack(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
              std::optional<std::chrono::milliseconds> delay, const std::string& error);
  Result<TimePoint> Extend(const std::string& member, PartitionId partition, Offset offset,
                           uint32_t attempt);
  Status Reject(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
                const std::string& reason);
  // Subscription::ReleaseAttempt: available again at once, the lease's attempt taken back.
  Status Release(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt);

  // ---- Timers and wake-ups ----
  // Expires due leases, makes due messages available, ships pending changes. Returns the next
  // time something falls due, if anything does.
  std::optional<TimePoint> RunTimers();
  bool has_pending_changes() const;
  // New records were committed (`events` may name other topics too): wakes members if any of
  // them is for this group to read.
  void OnAppend(const std::vector<storage::AppendEvent>& events);

  // ---- Direct hand-off (group_handoff.cc) ----
  // Writer thread, inside the commit that appends `messages` to this group's topic at
  // `positions` with `timestamp`: leases the records (those next in line for the group) to
  // members parked in Poll and writes the leases, attempt 1, into `batch`, so the append and the
  // lease are one write and the member needs no commit of its own. Ordering `none` only. Returns
  // whether it leased anything; then FinishHandOff must follow with the commit's outcome.
  bool StageHandOff(rocksdb::WriteBatch& batch, const std::vector<Message>& messages,
                    const std::vector<PublishResult>& positions, TimePoint timestamp);
  // Writer thread, after that commit: on success the parked members return what was leased to
  // them; on failure the leases are undone (the records do not exist).
  void FinishHandOff(bool committed);
  // Ships pending changes and waits until they are committed.
  Status Flush();
  // The broker is closing (or the group was deleted): later calls fail with kUnavailable.
  void Close();
  // Close, for deleting the group: kFailedPrecondition (and no change) if it has members. One
  // step under mu_, so no Join can come between the check and the close.
  Status CloseIfNoMembers();

  // ---- Views and dead letters ----
  GroupInfo Describe();
  MessageGroupState StateOf(PartitionId partition, Offset offset);
  // Not purged or redriven, from dead-letter-topic offset `from` on, at most `limit` (0: all).
  Result<std::vector<DeadLetter>> ListDeadLetters(Offset from, size_t limit);
  Result<RedriveResult> Redrive(const RedriveOptions& options);
  Result<uint64_t> Purge(const DeadLetterFilter& filter);
  // Moves partition p's cursor to `positions[p]`, dropping its unsettled state; a partition
  // without a position is left alone. Needs no members.
  Status Reset(const std::vector<std::optional<uint64_t>>& positions);
  // Interest retention: per partition, the group's ack floor (every offset below it settled),
  // returned only once the state behind it is committed, so a crash cannot bring back an
  // unsettled offset below it. kUnavailable if a write of this group failed meanwhile (the floor
  // may rest on changes that did not reach disk; the next pass tries again).
  Result<std::vector<uint64_t>> CommittedAckFloors();

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
  };
  struct LeaseRun {
    LeaseRunRecord record;
    uint32_t live = 0;   // offsets not released
    bool dirty = false;  // changed since last shipped (listed in dirty_runs_)
  };
  struct Cursor {
    uint64_t next = 0;     // first offset never read by the group
    uint64_t expired = 0;  // unsettled offsets lost to retention
    std::map<uint64_t, Entry> unsettled;
    std::set<uint64_t> available;
    std::unordered_map<uint64_t, std::set<uint64_t>> by_key;  // per_key: unsettled offsets per key
    std::map<std::string, uint64_t> leased_by;                 // member -> leases in this partition
    uint64_t fresh = 0;         // available, never delivered (attempts == 0)
    uint64_t redeliverable = 0;  // available, delivered before
    uint64_t leased = 0, delayed = 0, dead_pending = 0;
    std::map<uint64_t, LeaseRun> runs;  // first offset -> run with offsets not yet released
    uint64_t open_run = kNoRun;         // the run the next grant may extend
    storage::PartitionReadAhead read_ahead;  // the log batch being delivered
  };
  struct Member {
    uint32_t max_in_flight = 0;
    uint64_t leased = 0;
    std::function<void()> ready;
  };
  using Lock = std::unique_lock<std::mutex>;
  // A Poll in progress. While `parked` (waiting for records) the writer may lease it records in
  // the commit that appends them (StageHandOff); that commit's outcome decides them.
  struct Waiter {
    const std::string* member = nullptr;
    size_t max = 0;
    bool parked = false;
    bool committed = false;  // the commit of `staged` succeeded: Poll returns them
    std::vector<Record> staged;  // leased to member, as the records will read back
  };

  Status CheckOpen() const;
  void CloseLocked();
  Result<Entry*> FindLeased(const std::string& member, PartitionId partition, Offset offset,
                            uint32_t attempt);
  void Detach(Cursor& c, const Entry& e);
  void Attach(uint32_t partition, uint64_t offset, Cursor& c, Entry& e);
  void SetState(uint32_t partition, uint64_t offset, Entry& e, State state);
  // `queue_delete`: the message record is to be deleted by the next Ship (false when the write
  // that settles it deletes it, or it was never written).
  void Settle(uint32_t partition, uint64_t offset, bool queue_delete);
  Entry& AddEntry(uint32_t partition, uint64_t offset, const std::optional<std::string>& key);
  // Writes the entry's state as its message record (taking it out of its lease run, if any).
  void QueuePut(uint32_t partition, uint64_t offset, Entry& e);
  // Persists a grant: into a lease run if it is a first delivery without a message record.
  void PersistGrant(uint32_t partition, uint64_t offset, Entry& e);
  // The entry's offset leaves its lease run (settled, or now kept as a message record).
  void ReleaseFromRun(uint32_t partition, uint64_t offset, Entry& e);
  void MarkRunDirty(uint32_t partition, uint64_t first, LeaseRun& run);
  bool HasUnshipped() const;
  // Records of `partition` from `from` on, through its read-ahead, within kReadAheadBudget.
  Result<ReadResult> ReadUnread(uint32_t partition, uint64_t from, size_t max_records);
  void DropReadAheads();
  // What one Ship wrote: after a failed or refused write, all of it is marked dirty again.
  struct Shipped {
    std::vector<uint32_t> cursors;
    std::vector<std::pair<uint32_t, uint64_t>> runs;
    std::vector<std::pair<uint32_t, uint64_t>> messages;
    std::vector<uint64_t> dead;
  };
  void Remark(const Shipped& shipped);
  void MarkMessageDirty(uint32_t partition, uint64_t offset);
  void MarkDeadDirty(uint64_t dlq_offset);
  void MarkCursorDirty(uint32_t partition);
  // Hands pending ops to the writer. `done` (optional) runs on the writer thread after commit.
  // With `barrier`, a request goes to the writer even if nothing is pending, so `done` also runs
  // after everything queued before it (such as dead-letter writes) is committed.
  void Ship(Durability durability, std::function<void(const Status&)> done, bool barrier = false);
  void ShipIfFull();
  void DropExpired(uint32_t partition);
  // Lease expiry and nacks: redeliver after `delay`, or dead-letter after max_deliveries.
  void Fail(uint32_t partition, uint64_t offset, Entry& e, std::chrono::microseconds delay);
  // Reads the original and queues its dead-letter write (or settles it as expired if retention
  // deleted it). An error (the original could not be read) changes nothing.
  Status StartDeadLetter(uint32_t partition, uint64_t offset, Entry& e, const std::string& reason);
  // A dead-lettering that could not start or whose write failed is tried again after a delay
  // (ProcessDue dead-letters a due message that has used its deliveries).
  void RetryDeadLetterLater(uint32_t partition, uint64_t offset, Entry& e);
  void OnDeadLettered(uint32_t partition, uint64_t offset, const DeadRecord& dead,
                      const Result<std::vector<PublishResult>>& result);
  bool ProcessDue(TimePoint now);
  // The state change of a grant (attempt counted), without persisting it.
  void Lease(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
             TimePoint now);
  // `now` is the poll's time, the same for all its grants (so they can share a lease run).
  void Grant(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
             Record record, TimePoint now, std::vector<Delivery>& out);
  // per_key: whether `offset` (available) may be leased now: it is its key's oldest unsettled
  // message and no message of its key is leased, delayed or being dead-lettered.
  bool KeyIsFree(const Cursor& c, uint64_t key_hash, uint64_t offset) const;
  // Returns the first read error met (the messages it concerns stay unsettled), or Ok.
  Status SelectDeliveries(const std::string& member, size_t max, std::vector<Delivery>& out);
  void AssignPartitions();
  bool Owns(const std::string& member, uint32_t partition) const;
  void WakeMembers();
  // Poll's loop; returns with the lock held. With waiter.committed the result is to be ignored:
  // the waiter's staged leases are what the caller returns (TakeHandOff).
  Result<std::vector<Delivery>> PollLocked(Lock& lock, Waiter& waiter,
                                           std::chrono::steady_clock::time_point deadline);
  // The deliveries of a committed hand-off whose leases still hold.
  std::vector<Delivery> TakeHandOff(Waiter& waiter);
  // The first parked waiter whose member has credit left, or null.
  Waiter* PickWaiter();
  // The record at `offset`; nullopt if retention deleted it (it lies below the partition's first
  // offset); an error if it could not be read (I/O error, corrupt batch) or is missing above the
  // first offset. Only nullopt may settle a message (as expired): after an error it stays
  // unsettled and is tried again.
  Result<std::optional<Record>> ReadOne(uint32_t partition, uint64_t offset);
  PartitionLag LagOf(uint32_t partition, TimePoint now);
  static uint64_t AckFloorOf(const Cursor& c);
  std::chrono::microseconds BackoffFor(uint32_t attempts);

  // Constant after construction.
  const DeliveryContext context_;
  const std::shared_ptr<storage::TopicState> topic_;
  const std::string name_;
  const GroupRecord record_;
  const std::string dlq_topic_;

  mutable std::mutex mu_;
  std::condition_variable cv_;                    // members waiting in Poll
  bool closed_ = false;                           // guarded by mu_
  std::vector<Waiter*> waiters_;                  // guarded by mu_: every Poll in progress
  std::vector<Cursor> cursors_;                   // guarded by mu_, one per partition
  Timers lease_timers_;                           // guarded by mu_
  Timers due_timers_;                             // guarded by mu_
  std::map<std::string, Member> members_;         // guarded by mu_
  std::vector<std::string> join_order_;           // guarded by mu_
  std::vector<std::string> owners_;               // guarded by mu_ (per_partition)
  std::map<uint64_t, DeadRecord> dead_;           // guarded by mu_: dlq offset -> letter
  // Message records changed since the last Ship: (partition, offset), duplicates allowed. Ship
  // puts the entry's record, or deletes it when the entry has none (settled, or in a lease run).
  std::vector<std::pair<uint32_t, uint64_t>> dirty_messages_;  // guarded by mu_
  // Dead-letter records changed since the last Ship (purged, redriven): dlq offsets.
  std::vector<uint64_t> dirty_dead_;              // guarded by mu_
  std::set<uint32_t> dirty_cursors_;              // guarded by mu_
  // Lease runs changed or emptied since the last Ship: (partition, first offset).
  std::vector<std::pair<uint32_t, uint64_t>> dirty_runs_;  // guarded by mu_
  size_t unshipped_releases_ = 0;  // guarded by mu_: run releases (acks) since the last Ship
  uint32_t next_partition_ = 0;                   // guarded by mu_: round-robin start of Poll
  // A Poll was refused for a full disk: RunTimers wakes the members once writes work again.
  bool leasing_refused_for_space_ = false;        // guarded by mu_
  std::mt19937_64 jitter_rng_{0x5eed};            // guarded by mu_
  DeliveryCounters counters_;                     // guarded by mu_ (GroupInfo::counters)
  uint64_t failed_ships_ = 0;                     // guarded by mu_: writes undone (Remark)
};

}  // namespace broker::delivery
