// Restart on an on-disk broker: acked messages stay acked, leases of the previous process expire
// and redeliver, attempt counts never go down, dead letters and the group's config survive.
//
// The broker is closed before its subscriptions are destroyed, so their leases are still on disk
// as leases, as after a crash. (Real kill -9 crashes are in tests/crash/delivery.)
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class RestartTest : public OnDiskDeliveryTest {
 protected:
  RestartTest() : OnDiskDeliveryTest(2) {}

  GroupConfig config_ = ExactConfig();
};

TEST_F(RestartTest, AckedStayAckedAndLeasesOfTheDeadProcessRedeliver) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config_);
  std::vector<PublishResult> pos;
  for (int i = 0; i < 10; ++i) pos.push_back(Publish(kTopic, "m" + std::to_string(i), "k" + std::to_string(i)));
  ASSERT_EQ(Poll(*sub).size(), 10u);
  for (int i = 0; i < 6; ++i) DELIVERY_ASSERT_OK(sub->Ack(pos[i].partition, pos[i].offset));
  RunTimers();  // persists the batched acks
  Restart({&sub});

  for (int i = 0; i < 6; ++i) EXPECT_EQ(StateOf(pos[i]).status, MessageStatus::kAcked) << i;
  RunTimers();  // the old leases expire now
  for (int i = 6; i < 10; ++i) {
    const MessageGroupState s = StateOf(pos[i]);
    EXPECT_EQ(s.status, MessageStatus::kDelayed) << i;
    EXPECT_EQ(s.attempts, 1u) << i;
    EXPECT_EQ(s.delayed_until, Now() + seconds(1)) << i;
  }
  GroupInfo info = Describe();
  EXPECT_EQ(info.total.unsettled, 4u);
  EXPECT_EQ(info.total.delayed, 4u);
  EXPECT_TRUE(info.members.empty());

  auto again = Subscribe(kTopic, kGroup, "m1");
  EXPECT_TRUE(Poll(*again).empty());
  Advance(seconds(1));
  std::vector<Delivery> got = Poll(*again);
  ASSERT_EQ(got.size(), 4u);
  for (const Delivery& d : got) {
    EXPECT_EQ(d.attempt, 2u);
    EXPECT_GE(d.record.payload, "m6");
    DELIVERY_ASSERT_OK(again->Ack(d.record.partition, d.record.offset));
  }
  EXPECT_EQ(Describe().total.unsettled, 0u);
}

TEST_F(RestartTest, CleanCloseFlushesBatchedAcks) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config_);
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Ack(pos.partition, pos.offset));
  Restart({&sub});  // no RunDeliveryTimers: closing persists what is batched
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAcked);
}

TEST_F(RestartTest, AttemptCountsNeverGoDown) {
  config_.max_deliveries = 10;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config_);
  const PublishResult leased = Publish(kTopic, "leased", "a");
  const PublishResult delayed = Publish(kTopic, "delayed", "b");
  for (int attempt = 1; attempt <= 3; ++attempt) {
    for (const Delivery& d : Poll(*sub)) {
      DELIVERY_ASSERT_OK(sub->Nack(d.record.partition, d.record.offset, milliseconds(0), "e"));
    }
  }
  // Both have had 3 attempts. Lease "leased" a 4th time; leave "delayed" waiting.
  std::vector<Delivery> got = Poll(*sub);
  ASSERT_EQ(got.size(), 2u);
  for (const Delivery& d : got) {
    EXPECT_EQ(d.attempt, 4u);
    if (d.record.payload == "delayed") {
      DELIVERY_ASSERT_OK(sub->Nack(d.record.partition, d.record.offset, seconds(30), "wait"));
    }
  }
  const TimePoint due = StateOf(delayed).delayed_until;
  Restart({&sub});

  EXPECT_EQ(StateOf(leased).attempts, 4u);
  MessageGroupState s = StateOf(delayed);
  EXPECT_EQ(s.status, MessageStatus::kDelayed);
  EXPECT_EQ(s.attempts, 4u);
  EXPECT_EQ(s.delayed_until, due) << "the due time is kept";
  EXPECT_EQ(s.last_error, "wait");

  auto again = Subscribe(kTopic, kGroup, "m1");
  RunTimers();              // the old lease expires: 8 s backoff after the 4th attempt
  Advance(seconds(30));     // both are due
  got = Poll(*again);
  ASSERT_EQ(got.size(), 2u);
  for (const Delivery& d : got) EXPECT_EQ(d.attempt, 5u) << d.record.payload;
}

TEST_F(RestartTest, LeaseGrantIsDurableBeforeTheMessageIsHandedOut) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config_);
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);  // nothing else: no RunDeliveryTimers, no ack
  Restart({&sub});
  EXPECT_EQ(StateOf(pos).attempts, 1u);
  auto again = Subscribe(kTopic, kGroup, "m1");
  RunTimers();  // the old lease expires
  Advance(seconds(1));
  EXPECT_EQ(PollOne(*again).attempt, 2u);
}

TEST_F(RestartTest, PoisonMessageCannotLoopAcrossRestarts) {
  config_.max_deliveries = 3;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config_);
  const PublishResult pos = Publish(kTopic, "poison");
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(PollOne(*sub).attempt, attempt);
    // The process dies while handling it, every time.
    Restart({&sub});
    sub = Subscribe(kTopic, kGroup, "m1");
    RunTimers();
    if (attempt < 3) Advance(NominalBackoff(config_.backoff, attempt));
  }
  EXPECT_TRUE(Poll(*sub).empty());
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  auto letters = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "max_deliveries");
  EXPECT_EQ(letters[0].attempts, 3u);
}

TEST_F(RestartTest, DeadLettersSurvive) {
  config_.max_deliveries = 1;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config_);
  const PublishResult a = Publish(kTopic, "a", "ka");
  const PublishResult b = Publish(kTopic, "b", "kb");
  const PublishResult c = Publish(kTopic, "c", "kc");
  for (const Delivery& d : Poll(*sub)) {
    if (d.record.payload == "a") {
      DELIVERY_ASSERT_OK(sub->Reject(d.record.partition, d.record.offset, "bad a"));
    } else {
      DELIVERY_ASSERT_OK(sub->Nack(d.record.partition, d.record.offset, std::nullopt, "err"));
    }
  }
  RunTimers();
  const auto before = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(before.size(), 3u);
  Restart({&sub});

  EXPECT_EQ(Describe().dlq_depth, 3u);
  const auto after = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].original_partition, before[i].original_partition);
    EXPECT_EQ(after[i].original_offset, before[i].original_offset);
    EXPECT_EQ(after[i].reason, before[i].reason);
    EXPECT_EQ(after[i].last_error, before[i].last_error);
    EXPECT_EQ(after[i].attempts, before[i].attempts);
    EXPECT_EQ(after[i].dead_at, before[i].dead_at);
    EXPECT_EQ(after[i].record.headers, before[i].record.headers);
  }
  for (const PublishResult& pos : {a, b, c}) EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  EXPECT_EQ(Describe().total.unsettled, 0u);

  // Purge and redrive after a restart persist too.
  DeadLetterFilter only_a;
  only_a.reason = "rejected";
  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, only_a)), 1u);
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, {})).redriven, 2u);
  Restart();
  EXPECT_EQ(Describe().dlq_depth, 0u);
  EXPECT_EQ(Describe().total.unsettled, 2u);
  auto again = Subscribe(kTopic, kGroup, "m1");
  std::vector<Delivery> got = Poll(*again);
  ASSERT_EQ(got.size(), 2u);
  for (const Delivery& d : got) EXPECT_EQ(d.attempt, 1u);
}

TEST_F(RestartTest, GroupConfigCursorAndDeletionSurvive) {
  GroupConfig config = ExactConfig(Ordering::kPerKey);
  config.start = StartPosition::kLatest;
  config.max_deliveries = 8;
  config.ack_timeout = seconds(42);
  Publish(kTopic, "before", "k");
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, kGroup, config));
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, "doomed", {}));
  DELIVERY_ASSERT_OK(broker().DeleteGroup(kTopic, "doomed"));
  const TimePoint created = Describe().created_at;
  Publish(kTopic, "after-1", "k");
  Publish(kTopic, "after-2", "k");
  Restart();

  const GroupInfo info = Describe();
  EXPECT_EQ(info.config.start, StartPosition::kLatest);
  EXPECT_EQ(info.config.ordering, Ordering::kPerKey);
  EXPECT_EQ(info.config.max_deliveries, 8u);
  EXPECT_EQ(info.config.ack_timeout, seconds(42));
  EXPECT_EQ(info.created_at, created);
  EXPECT_EQ(info.total.backlog, 2u);
  EXPECT_EQ(broker().DescribeGroup(kTopic, "doomed").status().code(), StatusCode::kNotFound);

  // per_key still holds after the restart: "after-2" waits for "after-1".
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const Delivery d = PollOne(*sub);
  EXPECT_EQ(d.record.payload, "after-1");
  EXPECT_TRUE(Poll(*sub).empty());
  Restart({&sub});
  sub = Subscribe(kTopic, kGroup, "m1");
  RunTimers();
  Advance(seconds(1));
  std::vector<Delivery> got = Poll(*sub);
  ASSERT_EQ(got.size(), 1u) << "after-2 must still wait for after-1 after a restart";
  EXPECT_EQ(got[0].record.payload, "after-1");
  EXPECT_EQ(got[0].attempt, 2u);
}

}  // namespace
}  // namespace broker::testing
