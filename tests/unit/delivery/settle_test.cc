// Every state transition of one message in one group: available -> leased -> acked,
// leased -> delayed -> available (nack, lease expiry), extend, reject -> dead.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class SettleTest : public DeliveryTest {
 protected:
  SettleTest() { CreateTopic(kTopic, 1); }
};

TEST_F(SettleTest, AvailableLeasedAcked) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "hello");
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kPending);  // not yet read by the group

  const TimePoint leased_at = Now();
  Delivery d = PollOne(*sub);
  EXPECT_EQ(d.record.offset, pos.offset);
  EXPECT_EQ(d.record.payload, "hello");
  EXPECT_EQ(d.attempt, 1u);
  EXPECT_EQ(d.lease_expires_at, leased_at + ExactConfig().ack_timeout);
  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kLeased);
  EXPECT_EQ(state.leased_by, "m1");
  EXPECT_EQ(state.lease_expires_at, d.lease_expires_at);
  EXPECT_EQ(state.attempts, 1u);

  DELIVERY_ASSERT_OK(sub->Ack(pos.partition, pos.offset));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAcked);
  EXPECT_TRUE(Poll(*sub).empty());
  // Nothing comes back, however long we wait.
  Advance(std::chrono::hours(1));
  EXPECT_TRUE(Poll(*sub).empty());
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAcked);
}

TEST_F(SettleTest, NackDelaysThenRedelivers) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  const TimePoint nacked_at = Now();
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, seconds(7), "db down"));
  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kDelayed);
  EXPECT_EQ(state.delayed_until, nacked_at + seconds(7));
  EXPECT_EQ(state.last_error, "db down");
  EXPECT_EQ(state.attempts, 1u);
  EXPECT_TRUE(state.leased_by.empty());

  Advance(seconds(7) - microseconds(1));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDelayed);
  EXPECT_TRUE(Poll(*sub).empty());

  Advance(microseconds(1));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAvailable);
  Delivery again = PollOne(*sub);
  EXPECT_EQ(again.record.offset, pos.offset);
  EXPECT_EQ(again.attempt, 2u);
  DELIVERY_ASSERT_OK(sub->Ack(pos.partition, pos.offset));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAcked);
}

TEST_F(SettleTest, NackWithZeroDelayIsAvailableAtOnce) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, milliseconds(0), ""));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAvailable);
  EXPECT_EQ(PollOne(*sub).attempt, 2u);
}

TEST_F(SettleTest, PollDoesNotNeedTimersForDueRedelivery) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, seconds(2), ""));
  clock_->Advance(seconds(2));  // no RunDeliveryTimers: Poll itself sees the delay is over
  EXPECT_EQ(PollOne(*sub).attempt, 2u);
}

TEST_F(SettleTest, LeaseExpiresExactlyAtAckTimeout) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  const Delivery d = PollOne(*sub);

  Advance(ExactConfig().ack_timeout - microseconds(1));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kLeased);
  EXPECT_TRUE(Poll(*sub).empty());

  Advance(microseconds(1));
  ASSERT_EQ(Now(), d.lease_expires_at);
  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kDelayed);
  // An expiry counts as a failed attempt: backoff after the first attempt is 1 s.
  EXPECT_EQ(state.delayed_until, Now() + seconds(1));
  EXPECT_EQ(state.attempts, 1u);
  EXPECT_FALSE(state.last_error.empty());
  // The expired lease can no longer be settled by its old holder.
  EXPECT_EQ(sub->Ack(pos.partition, pos.offset).code(), StatusCode::kFailedPrecondition);

  Advance(seconds(1));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAvailable);
  EXPECT_EQ(PollOne(*sub).attempt, 2u);
}

// Found by the simulation (tests/sim, seed 1411): a member leaving after its lease ran out, but
// before the timers noticed, gave the message back at once, skipping the backoff, although the
// member's ack had just been refused as too late. The expiry counts, not the leaving.
TEST_F(SettleTest, ALeaseThatRanOutBeforeItsMemberLeftWaitsOutTheBackoff) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  const Delivery d = PollOne(*sub);
  clock_->Advance(ExactConfig().ack_timeout);  // the lease runs out; no timer runs
  EXPECT_EQ(sub->Ack(pos.partition, pos.offset).code(), StatusCode::kFailedPrecondition);
  sub.reset();  // m1 leaves

  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kDelayed);
  EXPECT_EQ(state.delayed_until, d.lease_expires_at + seconds(1));
  auto m2 = Subscribe(kTopic, kGroup, "m2");
  EXPECT_TRUE(Poll(*m2).empty());
  clock_->Advance(seconds(1));
  EXPECT_EQ(PollOne(*m2).attempt, 2u);
  EXPECT_EQ(Describe().counters.lease_expired, 1u);
}

TEST_F(SettleTest, ExtendRenewsTheLease) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  const Delivery d = PollOne(*sub);
  const auto timeout = ExactConfig().ack_timeout;

  Advance(seconds(20));
  const TimePoint renewed = Must(sub->Extend(pos.partition, pos.offset));
  EXPECT_EQ(renewed, Now() + timeout);
  EXPECT_EQ(StateOf(pos).lease_expires_at, renewed);

  // The original expiry passes without effect.
  clock_->Set(d.lease_expires_at);
  RunTimers();
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kLeased);

  clock_->Set(renewed - microseconds(1));
  RunTimers();
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kLeased);
  EXPECT_EQ(StateOf(pos).attempts, 1u);  // extending is not a new attempt

  clock_->Set(renewed);
  RunTimers();
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDelayed);
}

TEST_F(SettleTest, RejectDeadLettersAtOnce) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "poison");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(pos.partition, pos.offset, "schema mismatch"));
  RunTimers();  // waits for the dead-letter write; the clock does not move
  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kDead);
  EXPECT_EQ(state.attempts, 1u);
  EXPECT_EQ(state.last_error, "schema mismatch");
  EXPECT_EQ(Describe().dlq_depth, 1u);
  auto letters = Must(broker().ListDeadLetters(kTopic, kGroup, 10));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "rejected");
  EXPECT_EQ(letters[0].last_error, "schema mismatch");
  EXPECT_TRUE(Poll(*sub).empty());
  Advance(std::chrono::hours(1));
  EXPECT_TRUE(Poll(*sub).empty());
}

TEST_F(SettleTest, NackedMessageDoesNotHoldUpOthers) {
  auto sub = Subscribe(kTopic, kGroup, "m1", /*max_in_flight=*/1);
  const PublishResult first = Publish(kTopic, "first");
  const PublishResult second = Publish(kTopic, "second");
  const PublishResult third = Publish(kTopic, "third");

  EXPECT_EQ(PollOne(*sub).record.offset, first.offset);
  DELIVERY_ASSERT_OK(sub->Nack(first.partition, first.offset, std::nullopt, "later"));
  EXPECT_EQ(PollOne(*sub).record.offset, second.offset);
  DELIVERY_ASSERT_OK(sub->Ack(second.partition, second.offset));
  EXPECT_EQ(PollOne(*sub).record.offset, third.offset);
  DELIVERY_ASSERT_OK(sub->Ack(third.partition, third.offset));
  EXPECT_TRUE(Poll(*sub).empty());

  Advance(seconds(1));
  Delivery again = PollOne(*sub);
  EXPECT_EQ(again.record.offset, first.offset);
  EXPECT_EQ(again.attempt, 2u);
}

TEST_F(SettleTest, RedeliveryCarriesTheOriginalRecord) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos =
      Publish(kTopic, "body", "k1", Headers{{"traceparent", "00-abc-def-01"}, {"x", "1"}});
  Delivery first = PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, milliseconds(0), ""));
  Delivery second = PollOne(*sub);
  EXPECT_EQ(second.record.key, first.record.key);
  EXPECT_EQ(second.record.payload, "body");
  EXPECT_EQ(second.record.headers, first.record.headers);
  EXPECT_EQ(second.record.timestamp, first.record.timestamp);
}

}  // namespace
}  // namespace broker::testing
