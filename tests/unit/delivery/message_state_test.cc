// The per-message view: for (topic, partition, offset), its state in each group of the topic.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class MessageStateTest : public DeliveryTest {
 protected:
  MessageStateTest() { CreateTopic(kTopic, 2); }
};

TEST_F(MessageStateTest, ShowsEveryGroupOfTheTopic) {
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, "a", ExactConfig()));
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, "b", ExactConfig()));
  CreateTopic("other", 1);
  DELIVERY_ASSERT_OK(broker().CreateGroup("other", "c", ExactConfig()));
  const PublishResult pos = Publish(kTopic, "x");
  auto states = Must(broker().GetMessageState(kTopic, pos.partition, pos.offset));
  ASSERT_EQ(states.size(), 2u);
  std::set<std::string> groups;
  for (const MessageGroupState& s : states) {
    groups.insert(s.group);
    EXPECT_EQ(s.status, MessageStatus::kPending);
    EXPECT_EQ(s.attempts, 0u);
  }
  EXPECT_EQ(groups, (std::set<std::string>{"a", "b"}));
}

TEST_F(MessageStateTest, FollowsTheMessageThroughEveryState) {
  auto m1 = Subscribe(kTopic, kGroup, "m1");
  auto m2 = Subscribe(kTopic, kGroup, "m2");
  const PublishResult pos = Publish(kTopic, "x");
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kPending);

  // Leased by whom until when.
  const Delivery d = PollOne(*m1);
  MessageGroupState s = StateOf(pos);
  EXPECT_EQ(s.status, MessageStatus::kLeased);
  EXPECT_EQ(s.leased_by, "m1");
  EXPECT_EQ(s.lease_expires_at, d.lease_expires_at);
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.last_error, "");

  // Extended: the new expiry.
  clock_->Advance(seconds(3));
  const TimePoint until = Must(m1->Extend(pos.partition, pos.offset));
  EXPECT_EQ(StateOf(pos).lease_expires_at, until);

  // Delayed until when, with the last error.
  DELIVERY_ASSERT_OK(m1->Nack(pos.partition, pos.offset, seconds(4), "timeout calling payments"));
  s = StateOf(pos);
  EXPECT_EQ(s.status, MessageStatus::kDelayed);
  EXPECT_EQ(s.delayed_until, Now() + seconds(4));
  EXPECT_EQ(s.last_error, "timeout calling payments");
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.leased_by, "");

  // Due again: available (delivered before, so not pending).
  Advance(seconds(4));
  s = StateOf(pos);
  EXPECT_EQ(s.status, MessageStatus::kAvailable);
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.last_error, "timeout calling payments");

  // Leased by another member.
  const Delivery again = PollOne(*m2);
  s = StateOf(pos);
  EXPECT_EQ(s.status, MessageStatus::kLeased);
  EXPECT_EQ(s.leased_by, "m2");
  EXPECT_EQ(s.lease_expires_at, again.lease_expires_at);
  EXPECT_EQ(s.attempts, 2u);

  // Acked.
  DELIVERY_ASSERT_OK(m2->Ack(pos.partition, pos.offset));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAcked);
}

TEST_F(MessageStateTest, MessageWaitingForItsKeyIsAvailableNotLeased) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, ExactConfig(Ordering::kPerKey));
  const PublishResult first = Publish(kTopic, "1", "k");
  const PublishResult second = Publish(kTopic, "2", "k");
  PollOne(*sub);
  const MessageGroupState s = StateOf(second);
  EXPECT_TRUE(s.status == MessageStatus::kAvailable || s.status == MessageStatus::kPending)
      << MessageStatusName(s.status);
  EXPECT_EQ(s.attempts, 0u);
  EXPECT_EQ(StateOf(first).status, MessageStatus::kLeased);
}

TEST_F(MessageStateTest, DeadShowsAttemptsAndLastError) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 2;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, milliseconds(0), "first"));
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, milliseconds(0), "second"));
  RunTimers();
  const MessageGroupState s = StateOf(pos);
  EXPECT_EQ(s.status, MessageStatus::kDead);
  EXPECT_EQ(s.attempts, 2u);
  EXPECT_EQ(s.last_error, "second");
}

TEST_F(MessageStateTest, RedrivenMessageIsUnsettledAgainWithAttemptsReset) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(pos.partition, pos.offset, "bad"));
  RunTimers();
  ASSERT_EQ(Must(broker().Redrive(kTopic, kGroup, {})).redriven, 1u);
  const MessageGroupState s = StateOf(pos);
  EXPECT_EQ(s.status, MessageStatus::kAvailable);
  EXPECT_EQ(s.attempts, 0u);
}

// A purged dead letter is still a message that was dead-lettered, not one that was acked.
TEST_F(MessageStateTest, PurgedDeadLetterIsNotReportedAsAcked) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(pos.partition, pos.offset, "bad"));
  RunTimers();
  ASSERT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, {})), 1u);
  EXPECT_NE(StateOf(pos).status, MessageStatus::kAcked)
      << "the message was dead-lettered and its letter purged; it was never acked";
}

TEST_F(MessageStateTest, UnknownPositions) {
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, kGroup, ExactConfig()));
  Publish(kTopic, "x", "k");
  EXPECT_EQ(broker().GetMessageState(kTopic, PartitionId(2), Offset(0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(broker().GetMessageState(kTopic, PartitionId(0), Offset(1000)).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(broker().GetMessageState("nope", PartitionId(0), Offset(0)).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(broker().GetMessageState("bad name", PartitionId(0), Offset(0)).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace broker::testing
