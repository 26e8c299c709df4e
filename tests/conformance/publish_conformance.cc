// Publishing: positions of single and batch publishes, producer dedupe by idempotency key.
#include <future>
#include <set>
#include <string>
#include <vector>

#include "broker/client/headers.h"
#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ReceivedMessage;

TEST_P(PublishConformance, SinglePublishesGetConsecutiveOffsets) {
  const std::string topic = Topic("orders");
  for (uint64_t i = 0; i < 3; ++i) {
    auto published = client().Publish(topic, {.payload = "order " + std::to_string(i)}).get();
    CONFORMANCE_ASSERT_OK(published);
    EXPECT_EQ(published->partition, PartitionId(0));
    EXPECT_EQ(published->offset, Offset(i));
    EXPECT_FALSE(published->duplicate);
  }
}

// PublishOptions::partition (for Kafka producers): honoured in process; refused with
// invalid_argument where the wire carries no partition (gRPC, NATS), and then nothing is written.
TEST_P(PublishConformance, AnExplicitPartitionIsHonouredOrRefusedWithNothingWritten) {
  const std::string topic = Topic("orders");
  PublishOptions options;
  options.partition = PartitionId(0);
  auto chosen = client().Publish(topic, {.payload = "chosen"}, options).get();
  if (GetParam().name == "in_process") {
    CONFORMANCE_ASSERT_OK(chosen);
    EXPECT_EQ(chosen->partition, PartitionId(0));
    options.partition = PartitionId(7);  // the auto-created topic has one partition
    auto missing = client().Publish(topic, {.payload = "nowhere"}, options).get();
    EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument) << missing.status().ToString();
  } else {
    EXPECT_EQ(chosen.status().code(), StatusCode::kInvalidArgument) << chosen.status().ToString();
  }
  // Whatever was refused wrote nothing: the next publish follows only what was accepted.
  auto next = client().Publish(topic, {.payload = "next"}).get();
  CONFORMANCE_ASSERT_OK(next);
  EXPECT_EQ(next->offset, Offset(GetParam().name == "in_process" ? 1 : 0));
}

TEST_P(PublishConformance, BatchReturnsOnePositionPerMessageInOrder) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "first"}).get());
  std::vector<Message> batch = {{.payload = "a"}, {.payload = "b"}, {.payload = "c"}};
  auto published = client().PublishBatch(topic, std::move(batch)).get();
  CONFORMANCE_ASSERT_OK(published);
  ASSERT_EQ(published->size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ((*published)[i].offset, Offset(1 + i));

  // Consumed in the same order, with the payloads published.
  Recorder<std::string> payloads;
  auto consumer = Must(client().Subscribe(
      topic, "reader", [&](const ReceivedMessage& m) { payloads.Add(m.record.payload); }));
  ASSERT_TRUE(payloads.WaitForCount(4));
  EXPECT_EQ(payloads.values(), (std::vector<std::string>{"first", "a", "b", "c"}));
}

TEST_P(PublishConformance, RepeatedIdempotencyKeyReturnsFirstPositionAndAppendsNothing) {
  const std::string topic = Topic("payments");
  auto first = client().Publish(topic, {.payload = "charge", .idempotency_key = "pay-1"}).get();
  CONFORMANCE_ASSERT_OK(first);
  EXPECT_FALSE(first->duplicate);

  // A producer retrying after a timeout: same key, possibly another client.
  auto retry_client = NewClient();
  auto retry =
      retry_client->Publish(topic, {.payload = "charge", .idempotency_key = "pay-1"}).get();
  CONFORMANCE_ASSERT_OK(retry);
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->partition, first->partition);
  EXPECT_EQ(retry->offset, first->offset);

  auto next = client().Publish(topic, {.payload = "other"}).get();
  CONFORMANCE_ASSERT_OK(next);
  EXPECT_EQ(next->offset, first->offset + 1) << "the duplicate must not have been appended";
}

TEST_P(PublishConformance, IdempotencyKeyBecomesTheMessageIdHeader) {
  const std::string topic = Topic("payments");
  CONFORMANCE_ASSERT_OK(
      client().Publish(topic, {.payload = "x", .idempotency_key = "pay-7"}).get());
  CONFORMANCE_ASSERT_OK(client()
                            .Publish(topic, {.payload = "y",
                                             .headers = {{"message_id", "mine"}},
                                             .idempotency_key = "pay-8"})
                            .get());
  Recorder<ReceivedMessage> received;
  auto consumer =
      Must(client().Subscribe(topic, "reader", [&](const ReceivedMessage& m) { received.Add(m); }));
  ASSERT_TRUE(received.WaitForCount(2));
  EXPECT_EQ(received.values()[0].Header(client::kMessageIdHeader), "pay-7");
  EXPECT_EQ(received.values()[1].Header(client::kMessageIdHeader), "mine")
      << "a message_id the producer set is kept";
}

TEST_P(PublishConformance, KeyAndHeadersArriveAsPublished) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client()
                            .Publish(topic, {.key = "customer-42",
                                             .payload = std::string("bin\0ary", 7),
                                             .headers = {{"a", "1"}, {"a", "2"}, {"b", ""}}})
                            .get());
  Recorder<ReceivedMessage> received;
  auto consumer =
      Must(client().Subscribe(topic, "reader", [&](const ReceivedMessage& m) { received.Add(m); }));
  ASSERT_TRUE(received.WaitForCount(1));
  const ReceivedMessage m = received.values()[0];
  EXPECT_EQ(m.topic, topic);
  EXPECT_EQ(m.group, "reader");
  EXPECT_EQ(m.attempt, 1u);
  EXPECT_EQ(m.record.key, "customer-42");
  EXPECT_EQ(m.record.payload, std::string("bin\0ary", 7));
  EXPECT_EQ(m.record.headers, (Headers{{"a", "1"}, {"a", "2"}, {"b", ""}}));
}

// Many publishes in flight at once (a transport may carry them together), one of them invalid:
// every valid one gets its own position, the invalid one alone fails, and nothing is lost.
TEST_P(PublishConformance, ConcurrentPublishesSucceedAloneWhenOneOfThemIsInvalid) {
  const std::string topic = Topic("events");
  constexpr int kPublishes = 2000;
  constexpr int kInvalid = 1000;
  std::vector<std::future<Result<PublishResult>>> pending;
  for (int i = 0; i < kPublishes; ++i) {
    Message m{.payload = "event " + std::to_string(i)};
    if (i == kInvalid) m.headers = {{"", "a header without a name is invalid"}};
    pending.push_back(client().Publish(topic, std::move(m)));
  }
  std::set<uint64_t> offsets;
  for (int i = 0; i < kPublishes; ++i) {
    auto published = pending[static_cast<size_t>(i)].get();
    if (i == kInvalid) {
      ASSERT_FALSE(published.ok());
      EXPECT_EQ(published.status().code(), StatusCode::kInvalidArgument)
          << published.status().ToString();
      continue;
    }
    CONFORMANCE_ASSERT_OK(published);
    EXPECT_TRUE(offsets.insert(published->offset.value()).second) << "offset given twice";
  }
  ASSERT_EQ(offsets.size(), static_cast<size_t>(kPublishes - 1));
  EXPECT_EQ(*offsets.rbegin(), static_cast<uint64_t>(kPublishes - 2)) << "offsets are dense";

  // All of them are in the log, each once.
  Recorder<std::string> payloads;
  auto consumer = Must(client().Subscribe(
      topic, "reader", [&](const ReceivedMessage& m) { payloads.Add(m.record.payload); }));
  ASSERT_TRUE(payloads.WaitForCount(kPublishes - 1));
  const auto values = payloads.values();
  const std::set<std::string> distinct(values.begin(), values.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kPublishes - 1));
  EXPECT_EQ(distinct.count("event " + std::to_string(kInvalid)), 0u);
}

}  // namespace
}  // namespace broker::conformance
