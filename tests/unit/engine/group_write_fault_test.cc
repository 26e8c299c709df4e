// Group state under write faults: a change the group could not write (full disk) is written by a
// later write, so after a restart no unsettled message reads as settled.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "write_fault_fixture.h"

namespace broker {
namespace {

using ::broker::testing::WriteFaultTest;
using Target = ::broker::testing::FaultFileSystem::Target;
using Error = ::broker::testing::FaultFileSystem::Error;
using std::chrono::seconds;

class GroupWriteFaultTest : public WriteFaultTest {
 protected:
  static SubscribeOptions Member(const std::string& name) {
    SubscribeOptions options;
    options.member = name;
    options.group.ack_timeout = seconds(1);
    options.group.backoff.jitter = 0;
    return options;
  }

  // Publishes n records to "t" and leases them all to member "a" (one lease run, attempt 1).
  void PublishAndLease(int n, std::unique_ptr<Subscription>& sub) {
    for (int i = 0; i < n; ++i) ASSERT_OK(broker_->Publish("t", {.payload = std::to_string(i)}));
    auto subscribed = broker_->Subscribe("t", "g", Member("a"));
    ASSERT_OK(subscribed);
    sub = std::move(subscribed).value();
    auto leased = sub->Poll(n, std::chrono::milliseconds(0));
    ASSERT_OK(leased);
    ASSERT_EQ(leased->size(), static_cast<size_t>(n));
  }

  // After the fault is gone and RocksDB has recovered, the group's next write succeeds.
  void ClearFaultAndFlush() {
    fs_->ClearFault();
    ASSERT_OK(broker_->WaitUntilDiskWritable(std::chrono::seconds(20)));
    ASSERT_OK(broker_->RunDeliveryTimers());
  }

  // Every offset of "t" (partition 0) in [0, n) is unsettled in group "g" with `attempts`.
  void ExpectUnsettled(int n, uint32_t attempts) {
    auto info = broker_->DescribeGroup("t", "g");
    ASSERT_OK(info);
    EXPECT_EQ(info->total.unsettled, static_cast<uint64_t>(n));
    for (int i = 0; i < n; ++i) {
      auto states = broker_->GetMessageState("t", PartitionId(0), Offset(i));
      ASSERT_OK(states);
      ASSERT_EQ(states->size(), 1u);
      const MessageStatus status = (*states)[0].status;
      EXPECT_TRUE(status == MessageStatus::kDelayed || status == MessageStatus::kAvailable)
          << "offset " << i << ": " << MessageStatusName(status);
      EXPECT_EQ((*states)[0].attempts, attempts) << "offset " << i;
    }
  }
};

// Finding 1 of issue 15: the expired leases' message records were queued in the write that
// failed and never written again; the next write deleted the lease run, so after a restart the
// offsets read as settled (never redelivered, not even counted as expired).
TEST_F(GroupWriteFaultTest, LeaseExpiryDuringAFullDiskSurvivesARestart) {
  std::unique_ptr<Subscription> sub;
  ASSERT_NO_FATAL_FAILURE(PublishAndLease(3, sub));

  fs_->SetFault(Target::kAllWrites, Error::kNoSpace);
  clock_->Advance(seconds(2));  // the leases expire
  const Status failed = broker_->RunDeliveryTimers();
  EXPECT_EQ(failed.code(), StatusCode::kResourceExhausted) << failed.ToString();
  ASSERT_NO_FATAL_FAILURE(ClearFaultAndFlush());
  ASSERT_NO_FATAL_FAILURE(ExpectUnsettled(3, 1));

  sub.reset();
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_NO_FATAL_FAILURE(ExpectUnsettled(3, 1));
  clock_->Advance(seconds(2));  // past the backoff
  auto again = broker_->Subscribe("t", "g", Member("b"));
  ASSERT_OK(again);
  auto redelivered = (*again)->Poll(10, std::chrono::milliseconds(0));
  ASSERT_OK(redelivered);
  ASSERT_EQ(redelivered->size(), 3u);
  for (const Delivery& d : *redelivered) EXPECT_EQ(d.attempt, 2u);
}

// The same with nacks (explicit delays) and an extend: each queues a message record.
TEST_F(GroupWriteFaultTest, NacksAndExtendsDuringAFullDiskSurviveARestart) {
  std::unique_ptr<Subscription> sub;
  ASSERT_NO_FATAL_FAILURE(PublishAndLease(3, sub));

  fs_->SetFault(Target::kAllWrites, Error::kNoSpace);
  ASSERT_OK(sub->Nack(PartitionId(0), Offset(0), std::chrono::milliseconds(500), "boom"));
  ASSERT_OK(sub->Nack(PartitionId(0), Offset(1), std::chrono::milliseconds(500), "boom"));
  ASSERT_OK(sub->Extend(PartitionId(0), Offset(2)));
  EXPECT_FALSE(broker_->RunDeliveryTimers().ok());
  ASSERT_NO_FATAL_FAILURE(ClearFaultAndFlush());

  sub.reset();  // offset 2 goes back to the group (written by the broker's close)
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_NO_FATAL_FAILURE(ExpectUnsettled(3, 1));
  auto state = broker_->GetMessageState("t", PartitionId(0), Offset(0));
  ASSERT_OK(state);
  EXPECT_EQ((*state)[0].last_error, "boom");
}

// Subscription::AckPersisted says when its write failed (Ack cannot: it answers before its
// batched write); the ack still stands and is written once the disk has room.
TEST_F(GroupWriteFaultTest, AckPersistedReportsAFailedWrite) {
  std::unique_ptr<Subscription> sub;
  ASSERT_NO_FATAL_FAILURE(PublishAndLease(2, sub));
  fs_->SetFault(Target::kAllWrites, Error::kNoSpace);
  EXPECT_OK(sub->Ack(PartitionId(0), Offset(0)));
  const Status failed = sub->AckPersisted(PartitionId(0), Offset(1), 1);
  EXPECT_EQ(failed.code(), StatusCode::kResourceExhausted) << failed.ToString();
  EXPECT_NE(failed.message().find("not persisted"), std::string::npos) << failed.message();
  ASSERT_NO_FATAL_FAILURE(ClearFaultAndFlush());

  sub.reset();
  ASSERT_NO_FATAL_FAILURE(Open());
  auto info = broker_->DescribeGroup("t", "g");
  ASSERT_OK(info);
  EXPECT_EQ(info->total.unsettled, 0u);
}

// A redrive whose write fails has still taken effect (the write's changes go with the next one):
// the error says so, the letter is not offered to a retry, and the message comes back after a
// restart.
TEST_F(GroupWriteFaultTest, ARedriveWhoseWriteFailsSaysItTookEffect) {
  std::unique_ptr<Subscription> sub;
  ASSERT_NO_FATAL_FAILURE(PublishAndLease(1, sub));
  ASSERT_OK(sub->Reject(PartitionId(0), Offset(0), "poison"));
  ASSERT_OK(broker_->RunDeliveryTimers());
  auto letters = broker_->ListDeadLetters("t", "g", 0);
  ASSERT_OK(letters);
  ASSERT_EQ(letters->size(), 1u);
  sub.reset();

  fs_->SetFault(Target::kAllWrites, Error::kNoSpace);
  auto redriven = broker_->Redrive("t", "g", RedriveOptions{});
  ASSERT_FALSE(redriven.ok());
  EXPECT_EQ(redriven.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(redriven.status().message().find("took effect but is not persisted"),
            std::string::npos)
      << redriven.status().message();
  ASSERT_NO_FATAL_FAILURE(ClearFaultAndFlush());
  auto retried = broker_->Redrive("t", "g", RedriveOptions{});
  ASSERT_OK(retried);
  EXPECT_EQ(retried->matched, 0u) << "the first redrive stands";

  ASSERT_NO_FATAL_FAILURE(Open());
  auto info = broker_->DescribeGroup("t", "g");
  ASSERT_OK(info);
  EXPECT_EQ(info->total.unsettled, 1u) << "the redriven message is the group's again";
  auto after = broker_->ListDeadLetters("t", "g", 0);
  ASSERT_OK(after);
  EXPECT_TRUE(after->empty());
}

// Dead-letter retention rests only on purges that are written: a purge refused for a full disk
// (taken in memory, to be written later) lets no retention pass delete its letters, and after a
// crash before it was written the letters are listed and kept.
TEST_F(GroupWriteFaultTest, AnUnwrittenPurgeDeletesNoLetterEvenAfterACrash) {
  std::unique_ptr<Subscription> sub;
  ASSERT_NO_FATAL_FAILURE(PublishAndLease(2, sub));
  ASSERT_OK(sub->Reject(PartitionId(0), Offset(0), "bad"));
  ASSERT_OK(sub->Reject(PartitionId(0), Offset(1), "bad"));
  ASSERT_OK(broker_->RunDeliveryTimers());  // the dead-letter writes are committed

  fs_->SetFault(Target::kAllWrites, Error::kNoSpace);
  const auto purged = broker_->PurgeDeadLetters("t", "g", {});
  EXPECT_EQ(purged.status().code(), StatusCode::kResourceExhausted) << purged.status().ToString();
  const auto pass = broker_->RunRetention();
  EXPECT_FALSE(pass.ok()) << "a dead-letter floor rested on a purge not written";
  // The broker goes down with the disk still full: the purge is never written.
  sub.reset();
  broker_.reset();
  fs_->ClearFault();
  ASSERT_NO_FATAL_FAILURE(Open());

  auto letters = broker_->ListDeadLetters("t", "g", 0);
  ASSERT_OK(letters);
  EXPECT_EQ(letters->size(), 2u);
  EXPECT_OK(broker_->RunRetention());
  auto read = broker_->Read("t.g.dlq", PartitionId(0), Offset(0));
  ASSERT_OK(read);
  EXPECT_EQ(read->records.size(), 2u);
}

}  // namespace
}  // namespace broker
