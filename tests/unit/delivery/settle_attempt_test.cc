// Settles that name their delivery (Subscription::AckAttempt and friends, `attempt` being the
// Delivery's): once that delivery's lease has ended, a late settle fails even when the message
// was delivered again to the same member, and the redelivery keeps its lease. The settles without
// an attempt act on whichever lease the member holds.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class SettleAttemptTest : public DeliveryTest {
 protected:
  SettleAttemptTest() { CreateTopic(kTopic, 1); }

  // Publishes one message, delivers it to `sub`, lets that lease expire and redelivers it to
  // `sub`. Returns the first delivery; `second` receives the redelivery.
  Delivery DeliverTwice(Subscription& sub, Delivery& second) {
    Publish(kTopic, "x");
    Delivery first = PollOne(sub);
    Advance(GroupConfig{}.ack_timeout);     // the lease expires: a redelivery after backoff
    Advance(GroupConfig{}.backoff.initial);  // due
    second = PollOne(sub);
    return first;
  }
};

TEST_F(SettleAttemptTest, LateAckOfAnExpiredLeaseDoesNotSettleTheRedelivery) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  Delivery second;
  const Delivery first = DeliverTwice(*sub, second);
  ASSERT_EQ(first.attempt, 1u);
  ASSERT_EQ(second.attempt, 2u);
  const Record& r = first.record;

  const Status late = sub->AckAttempt(r.partition, r.offset, first.attempt);
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition) << late.ToString();
  EXPECT_NE(late.message().find("attempt 1"), std::string::npos) << late.message();
  MessageGroupState state = StateIn(kTopic, kGroup, r.partition, r.offset);
  EXPECT_EQ(state.status, MessageStatus::kLeased);
  EXPECT_EQ(state.attempts, 2u);
  EXPECT_EQ(Describe().counters.acked, 0u);

  DELIVERY_EXPECT_OK(sub->AckAttempt(r.partition, r.offset, second.attempt));
  EXPECT_EQ(StateIn(kTopic, kGroup, r.partition, r.offset).status, MessageStatus::kAcked);
}

TEST_F(SettleAttemptTest, LateNackExtendAndRejectFailToo) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  Delivery second;
  const Delivery first = DeliverTwice(*sub, second);
  const Record& r = first.record;
  EXPECT_EQ(sub->NackAttempt(r.partition, r.offset, first.attempt, std::nullopt, "late").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(sub->ExtendAttempt(r.partition, r.offset, first.attempt).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(sub->RejectAttempt(r.partition, r.offset, first.attempt, "late").code(),
            StatusCode::kFailedPrecondition);
  const MessageGroupState state = StateIn(kTopic, kGroup, r.partition, r.offset);
  EXPECT_EQ(state.status, MessageStatus::kLeased);
  EXPECT_EQ(state.attempts, 2u);
  EXPECT_EQ(state.last_error, "lease expired (not acked in time)");  // not "late"

  // The current delivery's settles work.
  auto extended = sub->ExtendAttempt(r.partition, r.offset, second.attempt);
  DELIVERY_ASSERT_OK(extended);
  EXPECT_EQ(*extended, Now() + GroupConfig{}.ack_timeout);
  DELIVERY_EXPECT_OK(sub->NackAttempt(r.partition, r.offset, second.attempt, seconds(0), "retry"));
  EXPECT_EQ(StateIn(kTopic, kGroup, r.partition, r.offset).status, MessageStatus::kAvailable);
}

TEST_F(SettleAttemptTest, SettlesWithoutAnAttemptActOnTheCurrentLease) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  Delivery second;
  const Delivery first = DeliverTwice(*sub, second);
  const Record& r = first.record;
  DELIVERY_EXPECT_OK(sub->Ack(r.partition, r.offset));
  EXPECT_EQ(StateIn(kTopic, kGroup, r.partition, r.offset).status, MessageStatus::kAcked);
}

}  // namespace
}  // namespace broker::testing
