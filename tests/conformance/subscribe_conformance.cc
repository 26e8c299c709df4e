// Auto-ack subscriptions: returning acks, throwing nacks with the group's backoff, the exception
// text becomes dlq.last_error, handler timeouts, start position.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::ReceivedMessage;
using std::chrono::steady_clock;

struct Attempt {
  std::string payload;
  uint32_t attempt;
  steady_clock::time_point at;
};

TEST_P(SubscribeConformance, ReturningNormallyAcks) {
  const std::string topic = Topic("orders");
  for (const char* p : {"a", "b", "c"}) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = p}).get());
  }
  Recorder<std::string> seen;
  auto consumer = Must(client().Subscribe(
      topic, "email", [&](const ReceivedMessage& m) { seen.Add(m.record.payload); }));
  ASSERT_TRUE(seen.WaitForCount(3));
  ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 3; }));
  EXPECT_EQ(consumer->stats().delivered, 3u);
  EXPECT_EQ(consumer->stats().nacked, 0u);
  CONFORMANCE_ASSERT_OK(consumer->Close());

  // Acked messages are not delivered to the group again: the next one it gets is a new one.
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "d"}).get());
  Recorder<ReceivedMessage> after;
  auto again =
      Must(client().Subscribe(topic, "email", [&](const ReceivedMessage& m) { after.Add(m); }));
  ASSERT_TRUE(after.WaitForCount(1));
  EXPECT_EQ(after.values()[0].record.payload, "d");
  EXPECT_EQ(after.values()[0].attempt, 1u);
}

TEST_P(SubscribeConformance, ThrowingNacksAndRedeliversAfterBackoff) {
  const std::string topic = Topic("orders");
  constexpr auto kBackoff = std::chrono::milliseconds(40);
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "flaky"}).get());
  Recorder<Attempt> attempts;
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/5, kBackoff);
  auto consumer = Must(client().Subscribe(
      topic, "email",
      [&](const ReceivedMessage& m) {
        attempts.Add({m.record.payload, m.attempt, steady_clock::now()});
        if (m.attempt < 3) throw std::runtime_error("smtp 451: try again later");
      },
      options));
  ASSERT_TRUE(attempts.WaitForCount(3));
  ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 1; }));
  const auto seen = attempts.values();
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].attempt, i + 1);
  for (size_t i = 1; i < seen.size(); ++i) {
    // The nack happens after the handler started, so the gap is at least the backoff (give 2 ms
    // for the difference between the broker's wall clock and this steady clock).
    EXPECT_GE(seen[i].at - seen[i - 1].at, kBackoff - std::chrono::milliseconds(2))
        << "redelivery " << i << " came before the backoff";
  }
  EXPECT_EQ(consumer->stats().nacked, 2u);
  EXPECT_EQ(consumer->stats().delivered, 3u);
}

TEST_P(SubscribeConformance, ExceptionTextBecomesDeadLetterLastError) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client()
                            .Publish(topic, {.key = "order-13",
                                             .payload = "poison",
                                             .headers = {{"traceparent", "00-aa-bb-01"}}})
                            .get());
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/2, std::chrono::milliseconds(10));
  Recorder<uint32_t> attempts;
  auto consumer = Must(client().Subscribe(
      topic, "email",
      [&](const ReceivedMessage& m) {
        attempts.Add(m.attempt);
        throw std::invalid_argument("no such mailbox: nobody@example.invalid");
      },
      options));

  const auto letters = ReadDeadLetters(topic, "email", 1);
  ASSERT_EQ(letters.size(), 1u) << "nothing reached " << topic << ".email.dlq";
  const Headers& h = letters[0].record.headers;
  EXPECT_EQ(HeaderOr(h, "dlq.last_error"), "no such mailbox: nobody@example.invalid");
  EXPECT_EQ(HeaderOr(h, "dlq.reason"), "max_deliveries");
  EXPECT_EQ(HeaderOr(h, "dlq.attempts"), "2");
  EXPECT_EQ(HeaderOr(h, "dlq.original_topic"), topic);
  EXPECT_EQ(HeaderOr(h, "dlq.group"), "email");
  EXPECT_EQ(HeaderOr(h, "dlq.original_offset"), "0");
  EXPECT_EQ(HeaderOr(h, "traceparent"), "00-aa-bb-01") << "trace context is kept in the DLQ";
  EXPECT_EQ(letters[0].record.key, "order-13");
  EXPECT_EQ(letters[0].record.payload, "poison");
  EXPECT_EQ(attempts.values(), (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.nacked == 2; }));

  if (Broker* broker = admin()) {
    auto listed = Must(broker->ListDeadLetters(topic, "email", 10));
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].last_error, "no such mailbox: nobody@example.invalid");
    EXPECT_EQ(listed[0].reason, "max_deliveries");
  }
}

TEST_P(SubscribeConformance, NonStandardExceptionIsANackToo) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "x"}).get());
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/1);
  auto consumer = Must(client().Subscribe(
      topic, "email", [](const ReceivedMessage&) { throw 42; }, options));
  const auto letters = ReadDeadLetters(topic, "email", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(HeaderOr(letters[0].record.headers, "dlq.last_error"), "");
}

TEST_P(SubscribeConformance, HandlerTimeoutNacksAndIgnoresTheLateOutcome) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "slow"}).get());
  auto release = std::make_shared<Gate>();
  ConsumerOptions options;
  options.handler_timeout = std::chrono::milliseconds(50);
  options.concurrency = 2;  // the redelivery runs while the first handler is still stuck
  options.group = FastRetry(/*max_deliveries=*/2, std::chrono::milliseconds(10));
  auto consumer = Must(client().Subscribe(
      topic, "email", [release](const ReceivedMessage&) { release->Wait(); }, options));

  const auto letters = ReadDeadLetters(topic, "email", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(HeaderOr(letters[0].record.headers, "dlq.last_error").find("timed out"),
            std::string::npos)
      << HeaderOr(letters[0].record.headers, "dlq.last_error");
  EXPECT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.timed_out == 2; }));
  release->Open();
  CONFORMANCE_ASSERT_OK(consumer->Close());
  EXPECT_EQ(consumer->stats().acked, 0u) << "a timed-out handler's return must not ack";
}

TEST_P(SubscribeConformance, StartLatestSkipsEarlierMessages) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "before"}).get());
  Recorder<std::string> seen;
  ConsumerOptions options;
  options.group.start = StartPosition::kLatest;
  auto consumer = Must(client().Subscribe(
      topic, "audit", [&](const ReceivedMessage& m) { seen.Add(m.record.payload); }, options));
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "after"}).get());
  ASSERT_TRUE(seen.WaitForCount(1));
  EXPECT_EQ(seen.values()[0], "after");
}

TEST_P(SubscribeConformance, EveryGroupGetsEveryMessage) {
  const std::string topic = Topic("order.completed");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "o1"}).get());
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "o2"}).get());
  Recorder<std::string> email, analytics;
  auto a = Must(client().Subscribe(topic, "email",
                                   [&](const ReceivedMessage& m) { email.Add(m.record.payload); }));
  auto b = Must(client().Subscribe(
      topic, "analytics", [&](const ReceivedMessage& m) { analytics.Add(m.record.payload); }));
  ASSERT_TRUE(email.WaitForCount(2));
  ASSERT_TRUE(analytics.WaitForCount(2));
  EXPECT_EQ(email.values(), (std::vector<std::string>{"o1", "o2"}));
  EXPECT_EQ(analytics.values(), (std::vector<std::string>{"o1", "o2"}));
}

}  // namespace
}  // namespace broker::conformance
