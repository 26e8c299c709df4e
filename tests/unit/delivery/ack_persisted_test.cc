// Subscription::AckPersisted (a double ack): it returns once the ack is written, where Ack leaves
// it to the batched write (Options::ack_flush_interval). Its failure under a full disk is in
// tests/unit/engine/group_write_fault_test.cc.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class AckPersistedTest : public DeliveryTest {
 protected:
  AckPersistedTest() { CreateTopic(kTopic, 1); }
};

TEST_F(AckPersistedTest, WritesTheAckBeforeReturningWhereAckBatchesIt) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult first = Publish(kTopic, "a");
  const PublishResult second = Publish(kTopic, "b");
  ASSERT_EQ(Poll(*sub).size(), 2u);

  const WriteStats before = broker().GetWriteStats();
  DELIVERY_ASSERT_OK(sub->Ack(first.partition, first.offset));
  EXPECT_EQ(broker().GetWriteStats().commits, before.commits) << "Ack is batched";
  DELIVERY_ASSERT_OK(sub->AckPersisted(second.partition, second.offset, 1));
  const WriteStats after = broker().GetWriteStats();
  // One synced write (the broker's durability) carried both acks.
  EXPECT_EQ(after.commits, before.commits + 1);
  EXPECT_EQ(after.synced_commits, before.synced_commits + 1);
  EXPECT_FALSE(broker().GetWriteStats().commits > after.commits);
  EXPECT_EQ(StateOf(first).status, MessageStatus::kAcked);
  EXPECT_EQ(StateOf(second).status, MessageStatus::kAcked);
  EXPECT_EQ(Describe().counters.acked, 2u);
}

TEST_F(AckPersistedTest, ChecksTheLeaseAsAckAttemptDoes) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "a");
  const Delivery d = PollOne(*sub);
  const WriteStats before = broker().GetWriteStats();
  EXPECT_EQ(sub->AckPersisted(pos.partition, pos.offset, d.attempt + 1).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(sub->AckPersisted(pos.partition, Offset(7), 0).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(broker().GetWriteStats().commits, before.commits) << "a refused ack writes nothing";
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kLeased);
  DELIVERY_ASSERT_OK(sub->AckPersisted(pos.partition, pos.offset, 0));
  EXPECT_EQ(sub->AckPersisted(pos.partition, pos.offset, 0).code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace broker::testing
