// Group: one consumer group on one topic, the concurrent shell around its state machine. It owns
//   - a GroupState (group_state.h): entries, cursors, leases, timers, ordering rules; pure;
//   - a GroupStore (group_store.h): turns the state's changes into records and ships them;
//   - what is concurrent: the mutex, members parked in Poll and their wake-ups, the direct
//     hand-off of new records to them (group_handoff.cc), the log batches each partition is
//     delivering from (read-ahead), and the clock (each state call gets `now` from here).
//
// Thread safety: every public member function takes mu_, so none may be called with it held
// (BROKER_EXCLUDES); what mu_ guards is BROKER_GUARDED_BY(mu_). clang's -Wthread-safety checks
// both (scripts/check-thread-safety.sh). Nothing waits on the LogWriter while holding mu_ (Poll,
// Redrive and Flush release it first), because the writer thread itself takes mu_ when a write of
// this group completes. Lock order: Group::mu_ -> LogWriter's queue mutex.
//
// Persistence: lease grants are shipped and committed before Poll returns them; acks, nacks and
// extends are shipped in batches (Options::ack_flush_batch / ack_flush_interval); an ack with
// `persisted` is shipped at once. A failed write keeps every change (GroupStore).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/clock.h"
#include "broker/delivery.h"
#include "broker/options.h"
#include "delivery/group_records.h"
#include "delivery/group_state.h"
#include "delivery/group_store.h"
#include "delivery/mutex.h"
#include "delivery/thread_annotations.h"
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
  // Bytes of log batches the broker's groups keep between polls (read-ahead), shared by every
  // copy of the context; at most Group::kReadAheadBudget.
  std::shared_ptr<std::atomic<size_t>> read_ahead_bytes = std::make_shared<std::atomic<size_t>>(0);
};

class Group : public std::enable_shared_from_this<Group> {
 public:
  // Past this many bytes of kept log batches (about 1 MiB each) across the broker, a poll does not
  // keep the batch it read from; the next poll of that partition fetches it again.
  static constexpr size_t kReadAheadBudget = 64 << 20;

  Group(DeliveryContext context, std::shared_ptr<storage::TopicState> topic, std::string name,
        GroupRecord record);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  const std::string& name() const { return name_; }
  const std::string& topic_name() const { return record_.topic; }
  storage::TopicId topic_id() const { return topic_->record.id; }
  const std::string& dlq_topic() const { return dlq_topic_; }
  std::chrono::milliseconds ack_timeout() const { return record_.config.ack_timeout; }

  // ---- Loading, before the group is shared ----
  void LoadCursor(PartitionId partition, const CursorRecord& cursor) BROKER_EXCLUDES(mu_);
  void LoadMessage(PartitionId partition, Offset offset, const MessageRecord& message)
      BROKER_EXCLUDES(mu_);
  void LoadDead(Offset dlq_offset, const DeadRecord& dead) BROKER_EXCLUDES(mu_);
  // After every LoadMessage of the group: an offset with a message record is not the run's.
  void LoadLeaseRun(PartitionId partition, Offset first, const LeaseRunRecord& run)
      BROKER_EXCLUDES(mu_);
  // Leases of the process that wrote the state are gone with it: they expire now.
  void FinishLoad() BROKER_EXCLUDES(mu_);
  // Puts for a new group's cursors (start position resolved against the partitions' bounds).
  void InitCursors(std::vector<std::pair<std::string, std::string>>& puts) BROKER_EXCLUDES(mu_);

  // ---- Members ----
  Status Join(const std::string& member, uint32_t max_in_flight) BROKER_EXCLUDES(mu_);
  void Leave(const std::string& member) BROKER_EXCLUDES(mu_);
  void SetReadyCallback(const std::string& member, std::function<void()> ready)
      BROKER_EXCLUDES(mu_);
  size_t member_count() const BROKER_EXCLUDES(mu_);

  // ---- Delivery (see Subscription) ----
  Result<std::vector<Delivery>> Poll(const std::string& member, size_t max,
                                     std::chrono::milliseconds timeout) BROKER_EXCLUDES(mu_);
  // `attempt`: the delivery whose lease is settled (Delivery::attempt); 0: whichever lease the
  // member holds.
  // With `persisted`, the ack is shipped at once (with the broker's durability) rather than
  // batched, and `persisted` runs with the write's outcome (on the writer thread).
  Status Ack(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
             std::function<void(const Status&)> persisted = nullptr) BROKER_EXCLUDES(mu_);
  // Subscription::AckPersisted: Ack, then waits until its write is committed.
  Status AckPersisted(const std::string& member, PartitionId partition, Offset offset,
                      uint32_t attempt) BROKER_EXCLUDES(mu_);
  Status Nack(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
              std::optional<std::chrono::milliseconds> delay, const std::string& error)
      BROKER_EXCLUDES(mu_);
  Result<TimePoint> Extend(const std::string& member, PartitionId partition, Offset offset,
                           uint32_t attempt) BROKER_EXCLUDES(mu_);
  Status Reject(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
                const std::string& reason) BROKER_EXCLUDES(mu_);
  // Subscription::ReleaseAttempt: available again at once, the lease's attempt taken back.
  Status Release(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt)
      BROKER_EXCLUDES(mu_);

  // ---- Timers and wake-ups ----
  // Expires due leases, makes due messages available, ships pending changes. Returns the next
  // time something falls due, if anything does.
  std::optional<TimePoint> RunTimers() BROKER_EXCLUDES(mu_);
  bool has_pending_changes() const BROKER_EXCLUDES(mu_);
  // New records were committed (`events` may name other topics too): wakes members if any of
  // them is for this group to read.
  void OnAppend(const std::vector<storage::AppendEvent>& events) BROKER_EXCLUDES(mu_);

  // ---- Direct hand-off (group_handoff.cc) ----
  // Writer thread, inside the commit that appends `messages` to this group's topic at
  // `positions` with `timestamp`: leases the records (those next in line for the group) to
  // members parked in Poll and writes the leases, attempt 1, into `batch`, so the append and the
  // lease are one write and the member needs no commit of its own. Ordering `none` only. Returns
  // whether it leased anything; then FinishHandOff must follow with the commit's outcome.
  bool StageHandOff(rocksdb::WriteBatch& batch, const std::vector<Message>& messages,
                    const std::vector<PublishResult>& positions, TimePoint timestamp)
      BROKER_EXCLUDES(mu_);
  // Writer thread, after that commit: on success the parked members return what was leased to
  // them; on failure the leases are undone (the records do not exist).
  void FinishHandOff(bool committed) BROKER_EXCLUDES(mu_);
  // Ships pending changes and waits until they are committed.
  Status Flush() BROKER_EXCLUDES(mu_);
  // The broker is closing (or the group was deleted): later calls fail with kUnavailable.
  void Close() BROKER_EXCLUDES(mu_);
  // Close, for deleting the group: kFailedPrecondition (and no change) if it has members. One
  // step under mu_, so no Join can come between the check and the close.
  Status CloseIfNoMembers() BROKER_EXCLUDES(mu_);

  // ---- Views and dead letters ----
  GroupInfo Describe() BROKER_EXCLUDES(mu_);
  MessageGroupState StateOf(PartitionId partition, Offset offset) BROKER_EXCLUDES(mu_);
  // Not purged or redriven, from dead-letter-topic offset `from` on, at most `limit` (0: all).
  Result<std::vector<DeadLetter>> ListDeadLetters(Offset from, size_t limit) BROKER_EXCLUDES(mu_);
  Result<RedriveResult> Redrive(const RedriveOptions& options) BROKER_EXCLUDES(mu_);
  Result<uint64_t> Purge(const DeadLetterFilter& filter) BROKER_EXCLUDES(mu_);
  // Moves partition p's cursor to `positions[p]`, dropping its unsettled state; a partition
  // without a position is left alone. Needs no members.
  Status Reset(const std::vector<std::optional<uint64_t>>& positions) BROKER_EXCLUDES(mu_);
  // Interest retention: per partition, the group's ack floor (every offset below it settled),
  // returned only once the state behind it is committed, so a crash cannot bring back an
  // unsettled offset below it. kUnavailable if a write of this group failed meanwhile (the floor
  // may rest on changes that did not reach disk; the next pass tries again).
  Result<std::vector<uint64_t>> CommittedAckFloors() BROKER_EXCLUDES(mu_);
  // Dead-letter retention: the group's dead-letter topic (its id) and the offset below which the
  // group holds none of its letters (GroupState::DeadLetterFloor), returned only once the state
  // behind it is committed, so a crash cannot bring back a letter below it. The topic's first
  // offset (nothing to delete) while a dead-letter write is in progress. Nullopt if the topic
  // does not exist or the group is closed. kUnavailable if a write of this group failed
  // meanwhile.
  Result<std::optional<std::pair<storage::TopicId, uint64_t>>> CommittedDeadLetterFloor()
      BROKER_EXCLUDES(mu_);

 private:
  // A Poll in progress. While `parked` (waiting for records) the writer may lease it records in
  // the commit that appends them (StageHandOff); that commit's outcome decides them.
  struct Waiter {
    const std::string* member = nullptr;
    size_t max = 0;
    bool parked = false;
    bool committed = false;      // the commit of `staged` succeeded: Poll returns them
    std::vector<Record> staged;  // leased to member, as the records will read back
  };
  // The log of this group's topic as GroupState reads it: RocksDB, through each partition's
  // read-ahead within kReadAheadBudget. Used under mu_ only (it holds the read-aheads).
  class Log final : public LogSource {
   public:
    Log(const DeliveryContext& context, const storage::TopicState& topic, const std::string& group);
    ~Log() override;
    uint64_t FirstOffset(uint32_t partition) override;
    uint64_t EndOffset(uint32_t partition) override;
    Result<std::optional<Record>> ReadOne(uint32_t partition, uint64_t offset) override;
    Result<ReadResult> ReadFrom(uint32_t partition, uint64_t from, size_t max_records) override;
    // Gives back the memory of every kept batch.
    void DropReadAheads();

   private:
    const DeliveryContext& context_;
    const storage::TopicState& topic_;
    const std::string& group_;
    std::vector<storage::PartitionReadAhead> read_ahead_;  // one per partition
  };

  TimePoint Now() const { return context_.clock->Now(); }
  Status CheckOpen() const BROKER_REQUIRES(mu_);
  void CloseLocked() BROKER_REQUIRES(mu_);
  // Acts on what a state call returned: dead letters to write, members to wake.
  void Apply(Effects& effects) BROKER_REQUIRES(mu_);
  void WakeMembers() BROKER_REQUIRES(mu_);
  // Hands the state's changes to the writer (GroupStore::Ship). `done` (optional) runs on the
  // writer thread after commit.
  void Ship(Durability durability, std::function<void(const Status&)> done, bool barrier = false)
      BROKER_REQUIRES(mu_);
  // Ships once enough changes are pending, else asks the timer thread to ship them soon.
  void ShipIfFull() BROKER_REQUIRES(mu_);
  // Ships with the broker's durability and waits (mu_ released meanwhile) for the commit.
  Status ShipAndWait(bool barrier) BROKER_REQUIRES(mu_);
  // The error for an admin change (redrive, purge, reset) whose write failed after the state
  // changed: says it took effect and is written with the next write.
  Status TakenNotPersisted(const Status& write, const std::string& what) const;
  void StartDeadLetterWrite(const DeadLetterJob& job) BROKER_REQUIRES(mu_);
  void OnDeadLettered(uint32_t partition, uint64_t offset, const DeadRecord& dead,
                      const Result<std::vector<PublishResult>>& result) BROKER_EXCLUDES(mu_);
  // Poll's loop; returns with the lock held. With waiter.committed the result is to be ignored:
  // the waiter's staged leases are what the caller returns (TakeHandOff).
  Result<std::vector<Delivery>> PollLocked(MutexLock& lock, Waiter& waiter,
                                           std::chrono::steady_clock::time_point deadline)
      BROKER_REQUIRES(mu_);
  // The deliveries of a committed hand-off whose leases still hold.
  std::vector<Delivery> TakeHandOff(Waiter& waiter) BROKER_REQUIRES(mu_);
  // The first parked waiter whose member has credit left, or null.
  Waiter* PickWaiter() BROKER_REQUIRES(mu_);

  // Constant after construction.
  const DeliveryContext context_;
  const std::shared_ptr<storage::TopicState> topic_;
  const std::string name_;
  const GroupRecord record_;
  const std::string dlq_topic_;

  mutable Mutex mu_;
  std::condition_variable cv_;  // members waiting in Poll (with mu_)
  bool closed_ BROKER_GUARDED_BY(mu_) = false;
  GroupState state_ BROKER_GUARDED_BY(mu_);
  GroupStore store_ BROKER_GUARDED_BY(mu_);
  Log log_ BROKER_GUARDED_BY(mu_);
  std::vector<Waiter*> waiters_ BROKER_GUARDED_BY(mu_);  // every Poll in progress
  // Members' ready callbacks (SetReadyCallback), called on every wake-up.
  std::map<std::string, std::function<void()>> ready_ BROKER_GUARDED_BY(mu_);
  // A Poll was refused for a full disk: RunTimers wakes the members once writes work again.
  bool leasing_refused_for_space_ BROKER_GUARDED_BY(mu_) = false;
};

}  // namespace broker::delivery
