// Subscription::ReleaseAttempt: a lease given back unhandled. The message is available at once,
// the attempt its lease counted is taken back (in memory and on disk), nothing counts as a
// failure; a release of a lease that has ended fails and changes nothing.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

using ReleaseTest = OnDiskDeliveryTest;

TEST_F(ReleaseTest, ReleasedMessageComesBackAtOnceWithTheSameAttempt) {
  // One delivery allowed: a nack (or an expiry) would dead-letter it.
  GroupConfig config = ExactConfig();
  config.max_deliveries = 1;
  auto first = Subscribe(kTopic, kGroup, "first", 256, config);
  auto second = Subscribe(kTopic, kGroup, "second", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  const Delivery d = PollOne(*first);
  ASSERT_EQ(d.attempt, 1u);
  EXPECT_EQ(d.lease_duration, config.ack_timeout);

  DELIVERY_ASSERT_OK(first->ReleaseAttempt(pos.partition, pos.offset, d.attempt));
  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kAvailable);
  EXPECT_EQ(state.attempts, 0u);
  EXPECT_EQ(state.last_error, "");

  const Delivery again = PollOne(*second);  // no clock moved: available at once
  EXPECT_EQ(again.attempt, 1u);
  const GroupInfo info = Describe();
  EXPECT_EQ(info.counters.redelivered, 0u);
  EXPECT_EQ(info.counters.nacked, 0u);
  EXPECT_EQ(info.counters.dead_lettered, 0u);
  DELIVERY_EXPECT_OK(second->AckAttempt(pos.partition, pos.offset, again.attempt));
}

TEST_F(ReleaseTest, TheRestoredCountSurvivesARestart) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  const Delivery d = PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->ReleaseAttempt(pos.partition, pos.offset, d.attempt));
  RunTimers();  // ships the batched change
  Restart({&sub});
  RunTimers();
  EXPECT_EQ(StateOf(pos).attempts, 0u);
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAvailable);
  auto again = Subscribe(kTopic, kGroup, "m2");
  EXPECT_EQ(PollOne(*again).attempt, 1u);
}

TEST_F(ReleaseTest, ReleaseOfAnEndedLeaseFailsAndChangesNothing) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  auto other = Subscribe(kTopic, kGroup, "m2");
  const PublishResult pos = Publish(kTopic, "x");
  const Delivery d = PollOne(*sub);
  EXPECT_EQ(other->ReleaseAttempt(pos.partition, pos.offset, d.attempt).code(),
            StatusCode::kFailedPrecondition)
      << "leased to another member";
  EXPECT_EQ(sub->ReleaseAttempt(pos.partition, pos.offset, d.attempt + 1).code(),
            StatusCode::kFailedPrecondition)
      << "another delivery's lease";
  EXPECT_EQ(sub->ReleaseAttempt(pos.partition, Offset(5), 1).code(),
            StatusCode::kFailedPrecondition)
      << "never delivered";
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kLeased);
  EXPECT_EQ(StateOf(pos).attempts, 1u);
  Advance(ExactConfig().ack_timeout);  // expired
  EXPECT_EQ(sub->ReleaseAttempt(pos.partition, pos.offset, d.attempt).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(StateOf(pos).attempts, 1u) << "an expired lease stays counted";
}

TEST_F(ReleaseTest, BatchedExtendsAnswerEachLeaseOnItsOwn) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult a = Publish(kTopic, "a");
  const PublishResult b = Publish(kTopic, "b");
  const auto got = Poll(*sub);
  ASSERT_EQ(got.size(), 2u);
  DELIVERY_ASSERT_OK(sub->AckAttempt(b.partition, b.offset, got[1].attempt));
  Advance(ExactConfig().ack_timeout / 2);
  const auto results = sub->ExtendAttempts(
      {{a.partition, a.offset, got[0].attempt}, {b.partition, b.offset, got[1].attempt}});
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].ok()) << results[0].status().ToString();
  EXPECT_EQ(*results[0],
            Now() + std::chrono::duration_cast<microseconds>(ExactConfig().ack_timeout));
  EXPECT_EQ(results[1].status().code(), StatusCode::kFailedPrecondition) << "already acked";
}

}  // namespace
}  // namespace broker::testing
