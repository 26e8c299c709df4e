// Redelivery delays: BackoffDelay itself, and the delays a group applies to nacks and expiries.
#include "delivery/backoff.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <random>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

using delivery::BackoffDelay;

TEST(BackoffDelayTest, DefaultPolicyDoublesFromOneSecondUpToFiveMinutes) {
  BackoffPolicy policy;  // defaults: 1 s x2 up to 5 min
  const int64_t expected_s[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300};
  for (uint32_t attempt = 1; attempt <= std::size(expected_s); ++attempt) {
    EXPECT_EQ(BackoffDelay(policy, attempt, 0.0), seconds(expected_s[attempt - 1]))
        << "attempt " << attempt;
  }
  EXPECT_EQ(BackoffDelay(policy, 1000, 0.0), std::chrono::minutes(5));
}

TEST(BackoffDelayTest, CustomPolicy) {
  const BackoffPolicy policy{.initial = milliseconds(10), .multiplier = 3.0,
                             .max = milliseconds(500), .jitter = 0};
  EXPECT_EQ(BackoffDelay(policy, 1, 0.0), milliseconds(10));
  EXPECT_EQ(BackoffDelay(policy, 2, 0.0), milliseconds(30));
  EXPECT_EQ(BackoffDelay(policy, 3, 0.0), milliseconds(90));
  EXPECT_EQ(BackoffDelay(policy, 4, 0.0), milliseconds(270));
  EXPECT_EQ(BackoffDelay(policy, 5, 0.0), milliseconds(500));
}

TEST(BackoffDelayTest, ZeroJitterIgnoresTheRandomUnit) {
  const BackoffPolicy policy{.jitter = 0};
  for (double unit : {-1.0, -0.3, 0.0, 0.7, 1.0}) {
    EXPECT_EQ(BackoffDelay(policy, 3, unit), seconds(4)) << "unit " << unit;
  }
}

TEST(BackoffDelayTest, JitterStaysWithinBounds) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  for (double jitter : {0.1, 0.2, 0.5, 1.0}) {
    const BackoffPolicy policy{.jitter = jitter};
    for (uint32_t attempt = 1; attempt <= 12; ++attempt) {
      const double nominal =
          static_cast<double>(NominalBackoff(policy, attempt).count());
      const double max = static_cast<double>(microseconds(policy.max).count());
      for (int i = 0; i < 200; ++i) {
        const double got = static_cast<double>(BackoffDelay(policy, attempt, unit(rng)).count());
        EXPECT_GE(got, std::floor(nominal * (1 - jitter))) << "attempt " << attempt;
        EXPECT_LE(got, std::min(max, std::ceil(nominal * (1 + jitter)))) << "attempt " << attempt;
      }
      // The ends of the range are reached exactly.
      EXPECT_EQ(static_cast<double>(BackoffDelay(policy, attempt, -1.0).count()),
                std::round(nominal * (1 - jitter)));
    }
  }
}

TEST(BackoffDelayTest, JitterIsNeverNegativeNorAboveMax) {
  const BackoffPolicy policy{.initial = seconds(1), .max = seconds(3), .jitter = 1.0};
  EXPECT_EQ(BackoffDelay(policy, 1, -1.0), microseconds(0));
  EXPECT_EQ(BackoffDelay(policy, 1, 1.0), seconds(2));
  EXPECT_EQ(BackoffDelay(policy, 5, 1.0), seconds(3));  // capped, jitter cannot exceed max
}

class GroupBackoffTest : public DeliveryTest {
 protected:
  GroupBackoffTest() { CreateTopic(kTopic, 1); }

  // Leases `pos` again (it must be due) and returns the attempt number.
  uint32_t Redeliver(Subscription& sub, const PublishResult& pos) {
    const Delivery d = PollOne(sub);
    EXPECT_EQ(d.record.offset, pos.offset);
    return d.attempt;
  }
};

TEST_F(GroupBackoffTest, NackWithoutDelayUsesExactExponentialBackoffCappedAtMax) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 100;
  config.backoff.max = seconds(20);
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  const int64_t expected_s[] = {1, 2, 4, 8, 16, 20, 20, 20};
  PollOne(*sub);
  for (uint32_t failure = 1; failure <= std::size(expected_s); ++failure) {
    DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, std::nullopt, "boom"));
    const auto delay = seconds(expected_s[failure - 1]);
    EXPECT_EQ(StateOf(pos).delayed_until, Now() + delay) << "after failure " << failure;
    Advance(delay - microseconds(1));
    EXPECT_TRUE(Poll(*sub).empty()) << "redelivered early after failure " << failure;
    Advance(microseconds(1));
    EXPECT_EQ(Redeliver(*sub, pos), failure + 1);
  }
}

TEST_F(GroupBackoffTest, LeaseExpiryUsesTheSameBackoff) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 10;
  config.ack_timeout = seconds(5);
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  for (uint32_t failure = 1; failure <= 4; ++failure) {
    Advance(seconds(5));  // the lease expires
    const auto delay = NominalBackoff(config.backoff, failure);
    ASSERT_EQ(StateOf(pos).status, MessageStatus::kDelayed);
    EXPECT_EQ(StateOf(pos).delayed_until, Now() + delay) << "after failure " << failure;
    Advance(delay - microseconds(1));
    EXPECT_TRUE(Poll(*sub).empty());
    Advance(microseconds(1));
    EXPECT_EQ(Redeliver(*sub, pos), failure + 1);
  }
}

TEST_F(GroupBackoffTest, ExplicitNackDelayOverridesBackoff) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, milliseconds(2500), ""));
  EXPECT_EQ(StateOf(pos).delayed_until, Now() + milliseconds(2500));
  Advance(milliseconds(2500));
  EXPECT_EQ(Redeliver(*sub, pos), 2u);
  // Later attempts do not make an explicit delay grow.
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, milliseconds(300), ""));
  EXPECT_EQ(StateOf(pos).delayed_until, Now() + milliseconds(300));
}

TEST_F(GroupBackoffTest, JitteredDelaysStayWithinBounds) {
  GroupConfig config;  // default jitter 0.2
  config.max_deliveries = 1000;
  config.backoff.initial = seconds(10);
  config.backoff.multiplier = 1.0;  // same nominal delay each time
  config.backoff.max = seconds(60);
  ASSERT_GT(config.backoff.jitter, 0);
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  const double j = config.backoff.jitter;
  const auto low = microseconds(static_cast<int64_t>(10e6 * (1 - j)));
  const auto high = microseconds(static_cast<int64_t>(10e6 * (1 + j)));
  bool saw_below = false, saw_above = false;
  PollOne(*sub);
  for (int i = 0; i < 100; ++i) {
    DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, std::nullopt, ""));
    const auto delay = StateOf(pos).delayed_until - Now();
    EXPECT_GE(delay, low);
    EXPECT_LE(delay, high);
    saw_below |= delay < seconds(10);
    saw_above |= delay > seconds(10);
    Advance(delay);
    PollOne(*sub);
  }
  EXPECT_TRUE(saw_below && saw_above) << "jitter should spread delays on both sides";
}

}  // namespace
}  // namespace broker::testing
