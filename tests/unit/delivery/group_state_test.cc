// GroupState on its own: no RocksDB, no threads, no clock. Each test passes `now` and reads the
// log from memory (MemoryLog), so it drives the state machine step by step and checks the effects
// and changes each call returns.
#include "delivery/group_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "memory_log.h"

namespace broker::delivery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

GroupConfig Config(Ordering ordering = Ordering::kNone) {
  GroupConfig config;
  config.ordering = ordering;
  config.ack_timeout = seconds(30);
  config.max_deliveries = 3;
  config.backoff.initial = seconds(1);
  config.backoff.max = seconds(10);
  config.backoff.multiplier = 2;
  config.backoff.jitter = 0;
  return config;
}

class GroupStateTest : public ::testing::Test {
 protected:
  explicit GroupStateTest(GroupConfig config = Config(), uint32_t partitions = 1)
      : log_(partitions), state_("orders", "mailer", config, partitions) {
    state_.InitCursors(std::vector<uint64_t>(partitions, 0));
    Effects effects;
    EXPECT_TRUE(state_.Join("m1", 100, effects).ok());
  }

  std::vector<Delivery> Select(const std::string& member, size_t max, TimePoint now) {
    std::vector<Delivery> out;
    Effects effects;
    EXPECT_TRUE(state_.Select(member, max, now, log_, out, effects).ok());
    return out;
  }
  static std::vector<uint64_t> Offsets(const std::vector<Delivery>& deliveries) {
    std::vector<uint64_t> out;
    for (const Delivery& d : deliveries) out.push_back(d.record.offset.value());
    return out;
  }
  MessageGroupState StateOf(uint64_t offset) {
    return state_.StateOf(PartitionId(0), Offset(offset), log_);
  }

  MemoryLog log_;
  GroupState state_;
};

TEST_F(GroupStateTest, AGrantIsOneLeaseRunAndItsAcksReleaseIt) {
  for (int i = 0; i < 3; ++i) log_.Append(0, std::nullopt);
  const auto granted = Select("m1", 10, kStart);
  ASSERT_EQ(Offsets(granted), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(granted[0].attempt, 1u);
  EXPECT_EQ(granted[0].lease_expires_at, kStart + seconds(30));

  Changes changes = state_.TakeChanges();
  ASSERT_EQ(changes.runs.size(), 1u);  // three first deliveries: one record
  EXPECT_TRUE(changes.messages.empty());
  ASSERT_NE(state_.RunRecordOf(0, 0), nullptr);
  EXPECT_EQ(state_.RunRecordOf(0, 0)->released.size(), 3u);
  EXPECT_EQ(changes.cursors, (std::vector<uint32_t>{0}));
  EXPECT_EQ(state_.CursorOf(0).next_offset, Offset(3));

  Effects effects;
  for (uint64_t o = 0; o < 3; ++o) {
    ASSERT_TRUE(state_.Ack("m1", PartitionId(0), Offset(o), 1, kStart + seconds(1), effects).ok());
  }
  EXPECT_EQ(effects.wake, Effects::Wake::kWaiters);  // credit came back
  EXPECT_EQ(state_.AckFloors(), (std::vector<uint64_t>{3}));
  changes = state_.TakeChanges();
  ASSERT_EQ(changes.runs.size(), 1u);
  EXPECT_EQ(state_.RunRecordOf(0, 0), nullptr);  // every offset released: written as a delete
  EXPECT_EQ(state_.counters().acked, 3u);
}

TEST_F(GroupStateTest, AnExpiredLeaseIsRedeliveredAfterBackoffWithTheNextAttempt) {
  log_.Append(0, std::nullopt);
  ASSERT_EQ(Select("m1", 1, kStart).size(), 1u);
  Effects effects;
  EXPECT_FALSE(state_.ProcessDue(kStart + seconds(29), log_, effects));
  EXPECT_EQ(state_.NextDue(), kStart + seconds(30));
  EXPECT_TRUE(state_.ProcessDue(kStart + seconds(30), log_, effects));
  EXPECT_EQ(StateOf(0).status, MessageStatus::kDelayed);
  EXPECT_EQ(StateOf(0).last_error, "lease expired (not acked in time)");
  EXPECT_EQ(StateOf(0).delayed_until, kStart + seconds(31));   // backoff after attempt 1: 1 s
  EXPECT_TRUE(Select("m1", 1, kStart + seconds(30)).empty());  // not due yet
  EXPECT_TRUE(state_.ProcessDue(kStart + seconds(31), log_, effects));
  const auto again = Select("m1", 1, kStart + seconds(31));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(state_.counters().lease_expired, 1u);
  EXPECT_EQ(state_.counters().redelivered, 1u);
}

TEST_F(GroupStateTest, TheLastAttemptIsDeadLetteredInOneJobAndSettledWhenItsWriteCommits) {
  log_.Append(0, std::string("k"), "poison");
  TimePoint now = kStart;
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    const auto got = Select("m1", 1, now);
    ASSERT_EQ(got.size(), 1u) << "attempt " << attempt;
    ASSERT_EQ(got[0].attempt, attempt);
    Effects effects;
    ASSERT_TRUE(state_
                    .Nack("m1", PartitionId(0), Offset(0), attempt, milliseconds(0), "boom", now,
                          log_, effects)
                    .ok());
    if (attempt < 3) {
      EXPECT_TRUE(effects.dead_letters.empty());
      continue;
    }
    ASSERT_EQ(effects.dead_letters.size(), 1u);
    const DeadLetterJob& job = effects.dead_letters[0];
    EXPECT_EQ(job.offset, 0u);
    EXPECT_EQ(job.original.payload, "poison");
    EXPECT_EQ(job.dead.reason, "max_deliveries");
    EXPECT_EQ(job.dead.last_error, "boom");
    EXPECT_EQ(job.dead.attempts, 3u);
    EXPECT_EQ(StateOf(0).status, MessageStatus::kDead);         // being dead-lettered
    EXPECT_EQ(state_.AckFloors(), (std::vector<uint64_t>{0}));  // not settled before its write
    Effects finished;
    state_.FinishDeadLetter(0, 0, job.dead, 7, now, finished);
    EXPECT_EQ(state_.AckFloors(), (std::vector<uint64_t>{1}));
    EXPECT_EQ(state_.counters().dead_lettered, 1u);
    ASSERT_NE(state_.DeadRecordOf(7), nullptr);
    EXPECT_EQ(state_.DeadLetters(0, 0).size(), 1u);
  }
}

TEST_F(GroupStateTest, AFailedDeadLetterWriteIsTriedAgainOnceDueNotDeliveredAgain) {
  log_.Append(0, std::nullopt);
  TimePoint now = kStart;
  Effects effects;
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(Select("m1", 1, now).size(), 1u);
    effects = Effects();
    ASSERT_TRUE(
        state_
            .Nack("m1", PartitionId(0), Offset(0), attempt, milliseconds(0), "", now, log_, effects)
            .ok());
  }
  ASSERT_EQ(effects.dead_letters.size(), 1u);
  Effects finished;
  state_.FinishDeadLetter(0, 0, effects.dead_letters[0].dead, std::nullopt, now, finished);
  EXPECT_EQ(StateOf(0).status, MessageStatus::kDelayed);
  EXPECT_EQ(StateOf(0).attempts, 3u);             // the count stays
  EXPECT_EQ(state_.NextDue(), now + seconds(1));  // backoff.initial, at least 100 ms
  Effects due;
  EXPECT_TRUE(state_.ProcessDue(now + seconds(1), log_, due));
  EXPECT_EQ(due.dead_letters.size(), 1u);  // dead-lettered again, not delivered a fourth time
  EXPECT_TRUE(Select("m1", 1, now + seconds(1)).empty());
}

TEST_F(GroupStateTest, ARejectWhoseDeadLetterWriteFailedIsDeadLetteredAgainNotDelivered) {
  log_.Append(0, std::nullopt);
  const TimePoint now = kStart;
  ASSERT_EQ(Select("m1", 1, now).size(), 1u);
  Effects effects;
  ASSERT_TRUE(
      state_.Reject("m1", PartitionId(0), Offset(0), 1, "schema v1", now, log_, effects).ok());
  ASSERT_EQ(effects.dead_letters.size(), 1u);
  Effects failed;
  state_.FinishDeadLetter(0, 0, effects.dead_letters[0].dead, std::nullopt, now, failed);
  EXPECT_EQ(StateOf(0).status, MessageStatus::kDelayed);
  EXPECT_EQ(StateOf(0).attempts, 1u);  // attempts are left, but it was rejected
  Effects due;
  EXPECT_TRUE(state_.ProcessDue(now + seconds(1), log_, due));
  ASSERT_EQ(due.dead_letters.size(), 1u);  // dead-lettered again, with its reason
  EXPECT_EQ(due.dead_letters[0].dead.reason, "rejected");
  EXPECT_TRUE(Select("m1", 1, now + seconds(1)).empty());  // never handled a second time
}

// Simulation seed 100732 (issue 15): once the dead-letter write is queued, no later group write
// carries the message's record, not even one a failed write gave back (it would commit after the
// dead-letter write and put back the record that write deleted). If the dead-letter write fails,
// the record is the group's to write again.
TEST_F(GroupStateTest, AQueuedDeadLetterWriteIsTheLastWordOnItsMessagesRecord) {
  log_.Append(0, std::nullopt);
  const TimePoint now = kStart;
  ASSERT_EQ(Select("m1", 1, now).size(), 1u);
  (void)state_.TakeChanges();
  Effects effects;
  ASSERT_TRUE(state_.Reject("m1", PartitionId(0), Offset(0), 1, "bad", now, log_, effects).ok());
  ASSERT_EQ(effects.dead_letters.size(), 1u);
  const Changes shipped = state_.TakeChanges();  // the write before the dead-letter write
  EXPECT_EQ(shipped.messages, (std::vector<std::pair<uint32_t, uint64_t>>{{0, 0}}));
  state_.DeadLetterQueued(0, 0);
  state_.Restore(shipped);  // that write failed
  EXPECT_TRUE(state_.TakeChanges().messages.empty());

  Effects failed;
  state_.FinishDeadLetter(0, 0, effects.dead_letters[0].dead, std::nullopt, now, failed);
  EXPECT_EQ(state_.TakeChanges().messages, (std::vector<std::pair<uint32_t, uint64_t>>{{0, 0}}));
  ASSERT_NE(state_.MessageRecordOf(0, 0), nullptr);
  EXPECT_EQ(state_.MessageRecordOf(0, 0)->state, EntryState::kDelayed);
}

// Dead-letter retention: the lowest letter still held, the end of the topic when none is, and
// nothing while a dead-letter write is in progress (its letter is not named yet).
TEST_F(GroupStateTest, TheDeadLetterFloorIsTheLowestLetterStillHeld) {
  for (int i = 0; i < 3; ++i) log_.Append(0, std::nullopt);
  EXPECT_EQ(state_.DeadLetterFloor(0), std::optional<uint64_t>(0));
  const auto got = Select("m1", 3, kStart);
  ASSERT_EQ(got.size(), 3u);
  for (uint64_t o = 0; o < 2; ++o) {
    Effects effects;
    ASSERT_TRUE(
        state_.Reject("m1", PartitionId(0), Offset(o), 1, "e" + std::to_string(o), kStart, log_,
                      effects)
            .ok());
    EXPECT_EQ(state_.DeadLetterFloor(o), std::nullopt) << "a dead-letter write is in progress";
    state_.FinishDeadLetter(0, o, effects.dead_letters.at(0).dead, o, kStart, effects);
  }
  EXPECT_EQ(state_.DeadLetterFloor(2), std::optional<uint64_t>(0));
  DeadLetterFilter first;
  first.error_contains = "e0";
  ASSERT_EQ(state_.Purge(first, kStart), 1u);
  EXPECT_EQ(state_.DeadLetterFloor(2), std::optional<uint64_t>(1));  // a tombstone holds nothing
  Effects effects;
  auto redriven = state_.Redrive(RedriveOptions{}, kStart, log_, effects);
  ASSERT_TRUE(redriven.ok());
  EXPECT_EQ(redriven->redriven, 1u);
  EXPECT_EQ(state_.DeadLetterFloor(2), std::optional<uint64_t>(2));  // none held: the end
}

TEST_F(GroupStateTest, AFailedWriteGivesEveryChangeBackToTheNextOne) {
  for (int i = 0; i < 4; ++i) log_.Append(0, std::nullopt);
  ASSERT_EQ(Select("m1", 4, kStart).size(), 4u);
  (void)state_.TakeChanges();  // the grant's write succeeded
  Effects effects;
  ASSERT_TRUE(state_.Ack("m1", PartitionId(0), Offset(0), 1, kStart, effects).ok());
  ASSERT_TRUE(
      state_.Nack("m1", PartitionId(0), Offset(1), 1, seconds(5), "later", kStart, log_, effects)
          .ok());
  ASSERT_TRUE(state_.Extend("m1", PartitionId(0), Offset(2), 1, kStart).ok());
  const Changes failed = state_.TakeChanges();
  EXPECT_FALSE(state_.HasChanges());
  state_.Restore(failed);  // the write failed
  ASSERT_TRUE(state_.HasChanges());
  const Changes retried = state_.TakeChanges();
  EXPECT_EQ(retried.runs, failed.runs);
  EXPECT_EQ(retried.messages, failed.messages);
  EXPECT_EQ(retried.cursors, failed.cursors);
  // What the retry writes is the state as it is: offsets 1 and 2 as message records (nacked,
  // extended), and the run with 0, 1 and 2 released.
  ASSERT_NE(state_.MessageRecordOf(0, 1), nullptr);
  EXPECT_EQ(state_.MessageRecordOf(0, 1)->state, EntryState::kDelayed);
  EXPECT_EQ(state_.MessageRecordOf(0, 1)->last_error, "later");
  ASSERT_NE(state_.MessageRecordOf(0, 2), nullptr);
  ASSERT_NE(state_.RunRecordOf(0, 0), nullptr);
  EXPECT_EQ(state_.RunRecordOf(0, 0)->released, (std::vector<bool>{true, true, true, false}));
}

TEST_F(GroupStateTest, AReadErrorNeverSettlesAMessage) {
  log_.Append(0, std::nullopt);
  ASSERT_EQ(Select("m1", 1, kStart).size(), 1u);
  log_.FailReads(true);
  Effects effects;
  // A reject must read the original for its dead letter: it fails and changes nothing.
  Status s = state_.Reject("m1", PartitionId(0), Offset(0), 1, "bad", kStart, log_, effects);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(StateOf(0).status, MessageStatus::kLeased);
  // The lease expires; a redelivery cannot read the record: it stays unsettled.
  ASSERT_TRUE(state_.ProcessDue(kStart + seconds(30), log_, effects));
  ASSERT_TRUE(state_.ProcessDue(kStart + seconds(31), log_, effects));  // its backoff passed
  std::vector<Delivery> out;
  EXPECT_EQ(state_.Select("m1", 1, kStart + seconds(31), log_, out, effects).code(),
            StatusCode::kDataLoss);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(StateOf(0).status, MessageStatus::kAvailable);
  EXPECT_EQ(state_.AckFloors(), (std::vector<uint64_t>{0}));
  log_.FailReads(false);
  ASSERT_EQ(Select("m1", 1, kStart + seconds(31)).size(), 1u);
}

TEST_F(GroupStateTest, RetentionSettlesWhatItDeletedAsExpired) {
  for (int i = 0; i < 5; ++i) log_.Append(0, std::nullopt);
  ASSERT_EQ(Select("m1", 2, kStart).size(), 2u);  // 0 and 1 leased, 2..4 never read
  log_.DeleteBelow(0, 4);
  state_.DropExpired(log_);
  EXPECT_EQ(state_.CursorOf(0).expired, 4u);  // two leased, two never read
  EXPECT_EQ(state_.AckFloors(), (std::vector<uint64_t>{4}));
  EXPECT_EQ(StateOf(1).status, MessageStatus::kExpired);
}

// Rejects offset 0 and commits its dead letter at dlq offset `dlq_offset`.
void DeadLetterFirst(GroupState& state, LogSource& log, uint64_t dlq_offset, TimePoint now) {
  std::vector<Delivery> out;
  Effects effects;
  ASSERT_TRUE(state.Select("m1", 1, now, log, out, effects).ok());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(state.Reject("m1", PartitionId(0), Offset(0), 1, "bad", now, log, effects).ok());
  ASSERT_EQ(effects.dead_letters.size(), 1u);
  state.FinishDeadLetter(0, 0, effects.dead_letters[0].dead, dlq_offset, now, effects);
}

TEST_F(GroupStateTest, ARedrivenMessageWaitsForRedeliveryItIsNotBacklog) {
  log_.Append(0, std::nullopt);
  DeadLetterFirst(state_, log_, 0, kStart);
  Effects effects;
  auto redriven = state_.Redrive(RedriveOptions{}, kStart + seconds(1), log_, effects);
  ASSERT_TRUE(redriven.ok());
  ASSERT_EQ(redriven->redriven, 1u);
  const GroupInfo info = state_.Describe(kStart + seconds(1), log_);
  EXPECT_EQ(info.total.backlog, 0u);  // it was delivered before: not "never delivered"
  EXPECT_EQ(info.total.delayed, 1u);
  EXPECT_EQ(info.total.unsettled, 1u);
  // Attempts start again, and once leased and acked it is gone from every count.
  const auto got = Select("m1", 1, kStart + seconds(1));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 1u);
  ASSERT_TRUE(state_.Ack("m1", PartitionId(0), Offset(0), 1, kStart + seconds(1), effects).ok());
  EXPECT_EQ(state_.Describe(kStart + seconds(1), log_).total.unsettled, 0u);
}

TEST_F(GroupStateTest, ARedriveAfterAResetToAnEarlierPositionDeliversEachMessageOnce) {
  for (int i = 0; i < 3; ++i) log_.Append(0, std::nullopt);
  DeadLetterFirst(state_, log_, 0, kStart);  // offset 0 dead, the cursor at 1
  Effects effects;
  state_.Leave("m1", kStart, log_, effects);
  ASSERT_TRUE(state_.Reset({0}).ok());  // back to offset 0: the original comes again
  auto redriven = state_.Redrive(RedriveOptions{}, kStart, log_, effects);
  ASSERT_TRUE(redriven.ok());
  EXPECT_EQ(redriven->redriven, 1u) << "the letter goes: the reset delivers its original";
  EXPECT_TRUE(state_.DeadLetters(0, 0).empty());
  ASSERT_TRUE(state_.Join("m1", 100, effects).ok());

  const auto got = Select("m1", 100, kStart);
  EXPECT_EQ(Offsets(got), (std::vector<uint64_t>{0, 1, 2})) << "each once, in order";
  for (const Delivery& d : got) {
    ASSERT_TRUE(state_.Ack("m1", d.record.partition, d.record.offset, d.attempt, kStart, effects)
                    .ok());
  }
  // No lease outlives its ack: nothing is due once the lease time has passed.
  Effects due;
  state_.ProcessDue(kStart + seconds(60), log_, due);
  EXPECT_TRUE(due.dead_letters.empty());
  const GroupInfo info = state_.Describe(kStart + seconds(60), log_);
  EXPECT_EQ(info.total.unsettled, 0u);
  EXPECT_EQ(info.total.in_flight, 0u);
}

// The append that hands a record off writes the moved cursor, but a group write shipped before
// (its values encoded then) can commit after it with the older cursor. So once the append
// committed, the next group write carries the cursor again; not before (the record may not exist).
TEST_F(GroupStateTest, ACommittedHandOffHasTheNextGroupWriteCarryItsCursor) {
  (void)state_.TakeChanges();
  const uint64_t offset = log_.Append(0, std::nullopt);
  state_.HandOff("m1", 0, offset, std::nullopt, kStart);
  EXPECT_TRUE(state_.TakeChanges().cursors.empty()) << "the append's own batch writes it";
  state_.HandOffCommitted(0);
  EXPECT_EQ(state_.TakeChanges().cursors, (std::vector<uint32_t>{0}));
  EXPECT_EQ(state_.CursorOf(0).next_offset.value(), offset + 1);
}

// Two records in partition 0; the first is dead-lettered at dlq offset 5.
class TombstoneTest : public GroupStateTest {
 protected:
  static constexpr uint64_t kLetter = 5;
  void SetUp() override {
    log_.Append(0, std::nullopt);
    log_.Append(0, std::nullopt);
    DeadLetterFirst(state_, log_, kLetter, kStart);
  }
  // Retention deletes the first record (the dead letter's original).
  void DeleteOriginal() {
    log_.DeleteBelow(0, 1);
    state_.DropExpired(log_);
  }
};

TEST_F(TombstoneTest, APurgedLettersTombstoneGoesOnceRetentionDeletedItsOriginal) {
  ASSERT_EQ(state_.Purge(DeadLetterFilter{}, kStart), 1u);
  (void)state_.TakeChanges();
  // The tombstone still says what became of the message while the original exists.
  ASSERT_NE(state_.DeadRecordOf(kLetter), nullptr);
  EXPECT_EQ(StateOf(0).status, MessageStatus::kDead);
  EXPECT_EQ(StateOf(0).last_error, "bad (dead letter purged)");
  DeleteOriginal();
  EXPECT_EQ(state_.DeadRecordOf(kLetter), nullptr);
  EXPECT_EQ(state_.TakeChanges().dead, (std::vector<uint64_t>{kLetter}));  // record deleted
  EXPECT_EQ(StateOf(0).status, MessageStatus::kExpired);
}

TEST_F(TombstoneTest, ALetterPurgedAfterItsOriginalWasDeletedLeavesNoTombstone) {
  DeleteOriginal();
  ASSERT_EQ(state_.Purge(DeadLetterFilter{}, kStart), 1u);
  state_.DropExpired(log_);  // the first offset did not move again
  EXPECT_EQ(state_.DeadRecordOf(kLetter), nullptr);
}

TEST_F(TombstoneTest, ALetterNotPurgedStaysWhenItsOriginalIsDeleted) {
  DeleteOriginal();
  EXPECT_NE(state_.DeadRecordOf(kLetter), nullptr);  // its copy in the DLQ is what is left
  EXPECT_EQ(state_.DeadLetters(0, 0).size(), 1u);
}

class PerKeyStateTest : public GroupStateTest {
 protected:
  PerKeyStateTest() : GroupStateTest(Config(Ordering::kPerKey)) {}
};

TEST_F(PerKeyStateTest, AKeysNextMessageWaitsForItsPredecessor) {
  log_.Append(0, std::string("a"));
  log_.Append(0, std::string("a"));
  log_.Append(0, std::string("b"));
  EXPECT_EQ(Offsets(Select("m1", 10, kStart)), (std::vector<uint64_t>{0, 2}));
  Effects effects;
  ASSERT_TRUE(state_.Ack("m1", PartitionId(0), Offset(0), 1, kStart, effects).ok());
  EXPECT_EQ(effects.wake, Effects::Wake::kMembers);  // the key's next one may go now
  EXPECT_EQ(Offsets(Select("m1", 10, kStart)), (std::vector<uint64_t>{1}));
}

class PerPartitionStateTest : public GroupStateTest {
 protected:
  PerPartitionStateTest() : GroupStateTest(Config(Ordering::kPerPartition), 2) {}
};

TEST_F(PerPartitionStateTest, AJoiningMemberTakesOverAPartitionOnceItsLeasesAreSettled) {
  log_.Append(0, std::nullopt);
  log_.Append(1, std::nullopt);
  EXPECT_EQ(Select("m1", 10, kStart).size(), 2u);  // alone: owns both
  Effects effects;
  ASSERT_TRUE(state_.Join("m2", 100, effects).ok());
  log_.Append(1, std::nullopt);
  // Partition 1 is m2's now, but m1 still holds a lease there.
  EXPECT_TRUE(Select("m2", 10, kStart).empty());
  ASSERT_TRUE(state_.Ack("m1", PartitionId(1), Offset(0), 1, kStart, effects).ok());
  const auto got = Select("m2", 10, kStart);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.partition, PartitionId(1));
  EXPECT_EQ(got[0].record.offset, Offset(1));
}

TEST_F(GroupStateTest, ALeavingMemberGivesItsLeasesBackAtOnce) {
  log_.Append(0, std::nullopt);
  Effects effects;
  ASSERT_TRUE(state_.Join("m2", 100, effects).ok());
  ASSERT_EQ(Select("m1", 1, kStart).size(), 1u);
  state_.Leave("m1", kStart, log_, effects);
  EXPECT_EQ(effects.wake, Effects::Wake::kMembers);
  EXPECT_EQ(StateOf(0).last_error, "member left before settling");
  const auto got = Select("m2", 1, kStart);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 2u);
}

TEST_F(GroupStateTest, LeasesOfAPreviousProcessExpireWhenLoaded) {
  GroupState loaded("orders", "mailer", Config(), 1);
  MessageRecord leased;
  leased.state = EntryState::kLeased;
  leased.attempts = 1;
  leased.member = "gone";
  leased.lease_expires = kStart + seconds(30);
  loaded.LoadCursor(0, CursorRecord{Offset(1), 0});
  loaded.LoadMessage(0, 0, leased);
  loaded.FinishLoad(kStart);
  log_.Append(0, std::nullopt);
  Effects effects;
  EXPECT_TRUE(loaded.ProcessDue(kStart, log_, effects));
  EXPECT_EQ(loaded.StateOf(PartitionId(0), Offset(0), log_).status, MessageStatus::kDelayed);
}

TEST_F(GroupStateTest, SettlingNeedsTheLeaseItNames) {
  log_.Append(0, std::nullopt);
  Effects effects;
  EXPECT_EQ(state_.Ack("m1", PartitionId(0), Offset(0), 0, kStart, effects).code(),
            StatusCode::kFailedPrecondition);  // never delivered
  ASSERT_EQ(Select("m1", 1, kStart).size(), 1u);
  EXPECT_EQ(state_.Ack("m1", PartitionId(3), Offset(0), 0, kStart, effects).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(state_.Ack("m2", PartitionId(0), Offset(0), 0, kStart, effects).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(state_.Ack("m1", PartitionId(0), Offset(0), 2, kStart, effects).code(),
            StatusCode::kFailedPrecondition);  // another attempt
  EXPECT_EQ(state_.Ack("m1", PartitionId(0), Offset(0), 1, kStart + seconds(30), effects).code(),
            StatusCode::kFailedPrecondition);  // its lease ended
  EXPECT_TRUE(state_.Ack("m1", PartitionId(0), Offset(0), 1, kStart, effects).ok());
}

}  // namespace
}  // namespace broker::delivery
