// Durations at the edges of what the wire allows (int64 milliseconds, doubles). Found by
// service_session_fuzzer (tests/fuzz) as signed overflow or float-to-int overflow, undefined
// behaviour that UBSan reports, when a duration was converted to microseconds or added to a
// timestamp. Out-of-range values must be refused with invalid_argument (storage::kMaxDuration,
// 100 years) or, where "longer" cannot change the outcome, clamped; nothing may overflow.
#include <gtest/gtest.h>

#include <cmath>

#include "delivery_test_util.h"
#include "storage/validation.h"

namespace broker::testing {
namespace {

using storage::kMaxDuration;
constexpr milliseconds kMaxMillis = milliseconds::max();
constexpr milliseconds kMinMillis = milliseconds::min();

class ExtremeDurationsTest : public DeliveryTest {
 protected:
  ExtremeDurationsTest() { CreateTopic(kTopic, 1); }

  StatusCode CreateGroupCode(const GroupConfig& config) {
    return broker().CreateGroup(kTopic, kGroup, config).code();
  }

  // Publishes `n` messages, leases them to one member and rejects them all: `n` dead letters.
  std::unique_ptr<Subscription> DeadLetters(int n) {
    auto sub = Subscribe(kTopic, kGroup, "m1");
    for (int i = 0; i < n; ++i) Publish(kTopic, "p" + std::to_string(i));
    for (const Delivery& d : Poll(*sub)) {
      Must(sub->Reject(d.record.partition, d.record.offset, "bad"));
    }
    RunTimers();
    return sub;
  }
};

TEST_F(ExtremeDurationsTest, AckTimeoutBeyond100YearsIsRefused) {
  GroupConfig config = ExactConfig();
  config.ack_timeout = kMaxMillis;
  EXPECT_EQ(CreateGroupCode(config), StatusCode::kInvalidArgument);
  config.ack_timeout = kMaxDuration + milliseconds(1);
  EXPECT_EQ(CreateGroupCode(config), StatusCode::kInvalidArgument);
}

TEST_F(ExtremeDurationsTest, AckTimeoutOf100YearsLeasesWithoutOverflow) {
  GroupConfig config = ExactConfig();
  config.ack_timeout = kMaxDuration;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  const TimePoint before = Now();
  const Delivery d = PollOne(*sub);
  EXPECT_EQ(d.lease_expires_at, before + kMaxDuration);
  EXPECT_EQ(Must(sub->Extend(pos.partition, pos.offset)), before + kMaxDuration);
}

TEST_F(ExtremeDurationsTest, BackoffBeyond100YearsIsRefused) {
  GroupConfig config = ExactConfig();
  config.backoff.max = kMaxMillis;
  EXPECT_EQ(CreateGroupCode(config), StatusCode::kInvalidArgument);
  config.backoff.initial = kMaxMillis;
  EXPECT_EQ(CreateGroupCode(config), StatusCode::kInvalidArgument);
}

TEST_F(ExtremeDurationsTest, NotANumberInBackoffIsRefused) {
  GroupConfig config = ExactConfig();
  config.backoff.jitter = std::nan("");
  EXPECT_EQ(CreateGroupCode(config), StatusCode::kInvalidArgument);
  config = ExactConfig();
  config.backoff.multiplier = std::nan("");
  EXPECT_EQ(CreateGroupCode(config), StatusCode::kInvalidArgument);
}

TEST_F(ExtremeDurationsTest, NackDelayBeyond100YearsIsRefusedAndChangesNothing) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  EXPECT_EQ(sub->Nack(pos.partition, pos.offset, kMaxMillis, "e").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kLeased);
  DELIVERY_EXPECT_OK(sub->Nack(pos.partition, pos.offset, kMaxDuration, "e"));
  EXPECT_EQ(StateOf(pos).delayed_until, Now() + kMaxDuration);
}

TEST_F(ExtremeDurationsTest, MostNegativeNackDelayMeansNow) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_EXPECT_OK(sub->Nack(pos.partition, pos.offset, kMinMillis, "e"));
  const Delivery again = PollOne(*sub);
  EXPECT_EQ(again.record.offset, pos.offset);
  EXPECT_EQ(again.attempt, 2u);
}

TEST_F(ExtremeDurationsTest, HugeOlderThanFilterMatchesNothing) {
  auto sub = DeadLetters(2);
  Advance(std::chrono::hours(24));
  DeadLetterFilter filter;
  filter.older_than = kMaxMillis;
  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, filter)), 0u);
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, {.filter = filter})).matched, 0u);
  filter.older_than = kMinMillis;  // not positive: no age condition
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, {.filter = filter, .dry_run = true})).matched,
            2u);
}

TEST_F(ExtremeDurationsTest, TinyRedriveRateDelaysAtMost100Years) {
  auto sub = DeadLetters(2);
  const TimePoint now = Now();
  const RedriveResult r = Must(broker().Redrive(kTopic, kGroup, {.rate_per_second = 1e-300}));
  EXPECT_EQ(r.redriven, 2u);
  // The first is due at once, the second as late as the clamp allows.
  ASSERT_EQ(Poll(*sub).size(), 1u);
  EXPECT_EQ(Describe().partitions[0].delayed, 1u);
  const MessageGroupState second = StateOf({.partition = PartitionId(0), .offset = Offset(1)});
  EXPECT_EQ(second.status, MessageStatus::kDelayed);
  EXPECT_EQ(second.delayed_until, now + kMaxDuration);
}

TEST_F(ExtremeDurationsTest, RetentionAgeBeyond100YearsIsRefused) {
  EXPECT_EQ(broker().CreateTopic("aged", TopicConfig{.retention_age = kMaxMillis}).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace broker::testing
