// Manual settling through MessageContext: ack, nack(delay, error), extend, reject; each settles at
// most once; what the handler leaves unsettled comes back when its lease expires.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::MessageContext;
using std::chrono::steady_clock;

struct Delivered {
  std::string payload;
  uint32_t attempt;
  steady_clock::time_point at;
};

TEST_P(ManualConformance, EachMessageSettlesOnlyOnce) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "x"}).get());
  Recorder<std::vector<StatusCode>> outcomes;
  auto consumer = Must(client().SubscribeManual(topic, "billing", [&](MessageContext& ctx) {
    std::vector<StatusCode> codes;
    codes.push_back(ctx.Ack().code());
    codes.push_back(ctx.Ack().code());
    codes.push_back(ctx.Nack().code());
    codes.push_back(ctx.Reject("late").code());
    codes.push_back(ctx.Extend().status().code());
    outcomes.Add(codes);
  }));
  ASSERT_TRUE(outcomes.WaitForCount(1));
  EXPECT_EQ(outcomes.values()[0],
            (std::vector<StatusCode>{
                StatusCode::kOk, StatusCode::kFailedPrecondition, StatusCode::kFailedPrecondition,
                StatusCode::kFailedPrecondition, StatusCode::kFailedPrecondition}));
  ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 1; }));
}

TEST_P(ManualConformance, NackWithDelayRedeliversAfterThatDelay) {
  const std::string topic = Topic("orders");
  constexpr auto kDelay = std::chrono::milliseconds(60);
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "x"}).get());
  Recorder<Delivered> deliveries;
  // The group's own backoff (1 s by default) is far longer: the redelivery must follow kDelay.
  auto consumer = Must(client().SubscribeManual(topic, "billing", [&](MessageContext& ctx) {
    deliveries.Add({ctx.message().record.payload, ctx.message().attempt, steady_clock::now()});
    if (ctx.message().attempt == 1) {
      EXPECT_TRUE(ctx.Nack(kDelay, "gateway busy").ok());
    } else {
      EXPECT_TRUE(ctx.Ack().ok());
    }
  }));
  ASSERT_TRUE(deliveries.WaitForCount(2, std::chrono::milliseconds(900)));
  const auto seen = deliveries.values();
  EXPECT_EQ(seen[1].attempt, 2u);
  EXPECT_GE(seen[1].at - seen[0].at, kDelay - std::chrono::milliseconds(2));
}

TEST_P(ManualConformance, NackErrorTextBecomesLastError) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "x"}).get());
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/1);
  auto consumer = Must(client().SubscribeManual(
      topic, "billing",
      [](MessageContext& ctx) { EXPECT_TRUE(ctx.Nack(std::nullopt, "ledger 503").ok()); },
      options));
  const auto letters = ReadDeadLetters(topic, "billing", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(HeaderOr(letters[0].record.headers, "dlq.last_error"), "ledger 503");
  EXPECT_EQ(HeaderOr(letters[0].record.headers, "dlq.reason"), "max_deliveries");
}

TEST_P(ManualConformance, RejectDeadLettersAtOnce) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.key = "k", .payload = "{bad json"}).get());
  Recorder<uint32_t> attempts;
  auto consumer = Must(client().SubscribeManual(topic, "billing", [&](MessageContext& ctx) {
    attempts.Add(ctx.message().attempt);
    EXPECT_TRUE(ctx.Reject("payload is not valid JSON").ok());
  }));
  const auto letters = ReadDeadLetters(topic, "billing", 1);
  ASSERT_EQ(letters.size(), 1u);
  const Headers& h = letters[0].record.headers;
  EXPECT_EQ(HeaderOr(h, "dlq.reason"), "rejected");
  EXPECT_EQ(HeaderOr(h, "dlq.last_error"), "payload is not valid JSON");
  EXPECT_EQ(HeaderOr(h, "dlq.attempts"), "1");
  EXPECT_EQ(letters[0].record.payload, "{bad json");
  EXPECT_EQ(attempts.values(), std::vector<uint32_t>{1}) << "a rejected message is not retried";
}

TEST_P(ManualConformance, ExtendKeepsTheLeaseBeyondTheAckTimeout) {
  const std::string topic = Topic("orders");
  constexpr auto kAckTimeout = std::chrono::milliseconds(150);
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "long job"}).get());
  ConsumerOptions options;
  options.group.ack_timeout = kAckTimeout;
  Recorder<Delivered> deliveries;
  Recorder<Status> ack;
  auto consumer = Must(client().SubscribeManual(
      topic, "billing",
      [&](MessageContext& ctx) {
        deliveries.Add({ctx.message().record.payload, ctx.message().attempt, steady_clock::now()});
        if (ctx.message().record.payload != "long job") {
          EXPECT_TRUE(ctx.Ack().ok());
          return;
        }
        // Work three ack timeouts long, renewing the lease as it goes.
        TimePoint previous{};
        for (int step = 0; step < 9; ++step) {
          work().For(kAckTimeout / 3);
          auto extended = ctx.Extend();
          ASSERT_TRUE(extended.ok()) << extended.status().ToString();
          EXPECT_GT(*extended, previous);
          previous = *extended;
        }
        ack.Add(ctx.Ack());
      },
      options));
  ASSERT_TRUE(ack.WaitForCount(1));
  EXPECT_TRUE(ack.values()[0].ok()) << ack.values()[0].ToString();
  // Had the lease expired, the redelivery would have been queued before this marker.
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "marker"}).get());
  ASSERT_TRUE(deliveries.WaitForCount(2));
  EXPECT_EQ(deliveries.values()[1].payload, "marker");
}

TEST_P(ManualConformance, UnsettledMessageComesBackWhenItsLeaseExpires) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "forgotten"}).get());
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/5, std::chrono::milliseconds(10));
  options.group.ack_timeout = std::chrono::milliseconds(100);
  Recorder<uint32_t> attempts;
  auto consumer = Must(client().SubscribeManual(
      topic, "billing",
      [&](MessageContext& ctx) {
        attempts.Add(ctx.message().attempt);
        if (ctx.message().attempt > 1) {
          EXPECT_TRUE(ctx.Ack().ok());
        }
      },
      options));
  ASSERT_TRUE(attempts.WaitForCount(2));
  EXPECT_EQ(attempts.values(), (std::vector<uint32_t>{1, 2}));
  ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 1; }));
}

TEST_P(ManualConformance, AckAfterTheLeaseExpiredFails) {
  const std::string topic = Topic("orders");
  constexpr auto kAckTimeout = std::chrono::milliseconds(100);
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "slow"}).get());
  ConsumerOptions options;
  // After the lease expires the message waits out a long backoff, so when the late ack comes it is
  // leased to nobody (a redelivery to this same member would take the ack as its own).
  options.group = FastRetry(/*max_deliveries=*/5, std::chrono::seconds(30));
  options.group.ack_timeout = kAckTimeout;
  options.max_lease_extension = std::chrono::milliseconds(1);  // the lease is left to run out
  Recorder<Status> acks;
  auto consumer = Must(client().SubscribeManual(
      topic, "billing",
      [&](MessageContext& ctx) {
        work().For(kAckTimeout * 3);  // the lease runs out meanwhile
        acks.Add(ctx.Ack());
      },
      options));
  ASSERT_TRUE(acks.WaitForCount(1));
  EXPECT_EQ(acks.values()[0].code(), StatusCode::kFailedPrecondition)
      << "the broker no longer holds the lease; the handler must learn its ack did not count";
  EXPECT_EQ(consumer->stats().acked, 0u);
}

// The lease of the first delivery expires while its handler runs and the same member gets the
// message again: the first handler's late ack must fail and leave the redelivery to its own
// handler, whose ack is the one that counts.
TEST_P(ManualConformance, ALateAckDoesNotSettleTheRedeliveryToTheSameMember) {
  const std::string topic = Topic("orders");
  constexpr auto kAckTimeout = std::chrono::milliseconds(150);
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "slow"}).get());
  ConsumerOptions options;
  options.concurrency = 2;  // one member, two handler threads: it can hold both deliveries
  options.group = FastRetry(/*max_deliveries=*/5, std::chrono::milliseconds(1));
  options.group.ack_timeout = kAckTimeout;
  options.max_lease_extension = std::chrono::milliseconds(1);  // the lease is left to run out
  Gate redelivered;
  Gate first_acked;
  Recorder<Status> first_ack;
  Recorder<Status> second_ack;
  auto consumer = Must(client().SubscribeManual(
      topic, "billing",
      [&](MessageContext& ctx) {
        if (ctx.message().attempt == 1) {
          redelivered.Wait();  // the lease has expired and the message is leased again
          first_ack.Add(ctx.Ack());
          first_acked.Open();
        } else if (ctx.message().attempt == 2) {
          redelivered.Open();
          first_acked.Wait();
          second_ack.Add(ctx.Ack());
        }
      },
      options));
  ASSERT_TRUE(first_ack.WaitForCount(1));
  EXPECT_EQ(first_ack.values()[0].code(), StatusCode::kFailedPrecondition)
      << "the first delivery's lease is over: " << first_ack.values()[0].ToString();
  ASSERT_TRUE(second_ack.WaitForCount(1));
  EXPECT_TRUE(second_ack.values()[0].ok()) << second_ack.values()[0].ToString();
  EXPECT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 1; }));
}

TEST_P(ManualConformance, ThrowingFromAManualHandlerNacks) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "x"}).get());
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/1);
  auto consumer = Must(client().SubscribeManual(
      topic, "billing", [](MessageContext&) { throw std::runtime_error("parser crashed"); },
      options));
  const auto letters = ReadDeadLetters(topic, "billing", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(HeaderOr(letters[0].record.headers, "dlq.last_error"), "parser crashed");
}

}  // namespace
}  // namespace broker::conformance
