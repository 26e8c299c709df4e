// GroupInfo::counters: every delivery and settle of a group is counted once, by kind.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class CountersTest : public DeliveryTest {
 protected:
  CountersTest() { CreateTopic(kTopic, 1); }
};

TEST_F(CountersTest, CountsEveryKindOfDeliveryAndSettle) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 2;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  EXPECT_EQ(Describe().counters.delivered, 0u);

  const PublishResult acked = Publish(kTopic, "a");
  const PublishResult nacked = Publish(kTopic, "b");
  const PublishResult rejected = Publish(kTopic, "c");
  const PublishResult expiring = Publish(kTopic, "d");
  ASSERT_EQ(Poll(*sub).size(), 4u);
  DELIVERY_ASSERT_OK(sub->Ack(acked.partition, acked.offset));
  DELIVERY_ASSERT_OK(sub->Nack(nacked.partition, nacked.offset, seconds(0), "retry"));
  DELIVERY_ASSERT_OK(sub->Reject(rejected.partition, rejected.offset, "bad"));
  RunTimers();  // completes the dead-letter write

  DeliveryCounters c = Describe().counters;
  EXPECT_EQ(c.delivered, 4u);
  EXPECT_EQ(c.redelivered, 0u);
  EXPECT_EQ(c.acked, 1u);
  EXPECT_EQ(c.nacked, 1u);
  EXPECT_EQ(c.rejected, 1u);
  EXPECT_EQ(c.dead_lettered, 1u);
  EXPECT_EQ(c.lease_expired, 0u);

  // The nacked message comes back (a redelivery); then both leases run out. The nacked one has
  // used its two attempts and is dead-lettered; the other is delayed for a second attempt.
  ASSERT_EQ(Poll(*sub).size(), 1u);
  Advance(ExactConfig().ack_timeout);
  c = Describe().counters;
  EXPECT_EQ(c.delivered, 5u);
  EXPECT_EQ(c.redelivered, 1u);
  EXPECT_EQ(c.lease_expired, 2u);
  EXPECT_EQ(c.dead_lettered, 2u);
  EXPECT_EQ(Describe().dlq_depth, 2u);
  EXPECT_EQ(StateOf(expiring).status, MessageStatus::kDelayed);
}

TEST_F(CountersTest, FailedSettlesAreNotCounted) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "a");
  EXPECT_FALSE(sub->Ack(pos.partition, pos.offset).ok());  // never delivered
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Ack(pos.partition, pos.offset));
  EXPECT_FALSE(sub->Ack(pos.partition, pos.offset).ok());  // already settled
  EXPECT_FALSE(sub->Nack(pos.partition, pos.offset).ok());
  const DeliveryCounters c = Describe().counters;
  EXPECT_EQ(c.acked, 1u);
  EXPECT_EQ(c.nacked, 0u);
}

}  // namespace
}  // namespace broker::testing
