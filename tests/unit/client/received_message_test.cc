// ReceivedMessage::Header and MessageIdOf: pure functions of a message.
#include <gtest/gtest.h>

#include "broker/client/client.h"
#include "broker/client/headers.h"
#include "broker/client/idempotent.h"

namespace broker::client {
namespace {

ReceivedMessage WithHeaders(Headers headers) {
  ReceivedMessage m;
  m.topic = "orders";
  m.group = "email";
  m.record.partition = PartitionId(3);
  m.record.offset = Offset(1234);
  m.record.headers = std::move(headers);
  return m;
}

TEST(ReceivedMessageHeaderTest, ReturnsTheFirstHeaderOfThatName) {
  const auto m = WithHeaders({{"a", "1"}, {"b", "2"}, {"a", "3"}});
  EXPECT_EQ(m.Header("a"), "1");
  EXPECT_EQ(m.Header("b"), "2");
}

TEST(ReceivedMessageHeaderTest, AbsentIsNulloptButEmptyIsAValue) {
  const auto m = WithHeaders({{"empty", ""}});
  EXPECT_EQ(m.Header("missing"), std::nullopt);
  ASSERT_TRUE(m.Header("empty").has_value());
  EXPECT_EQ(*m.Header("empty"), "");
}

TEST(ReceivedMessageHeaderTest, NamesAreCaseSensitiveAndExact) {
  const auto m = WithHeaders({{"Traceparent", "x"}, {"trace", "y"}});
  EXPECT_EQ(m.Header("traceparent"), std::nullopt);
  EXPECT_EQ(m.Header("trace"), "y");
}

TEST(ReceivedMessageHeaderTest, ValuesAreBytes) {
  const std::string binary("\0\xff\x01", 3);
  const auto m = WithHeaders({{"blob", binary}});
  EXPECT_EQ(m.Header("blob"), binary);
}

TEST(MessageIdTest, UsesTheMessageIdHeader) {
  const auto m = WithHeaders({{std::string(kMessageIdHeader), "order-42-created"}});
  EXPECT_EQ(MessageIdOf(m), "order-42-created");
}

TEST(MessageIdTest, WithoutTheHeaderIsTheRecordPositionAndPublishTime) {
  auto m = WithHeaders({{"other", "x"}});
  m.record.timestamp = TimePoint(std::chrono::microseconds(1767225600000001));
  EXPECT_EQ(MessageIdOf(m), "orders/3/1234@1767225600000001");
}

TEST(MessageIdTest, TheSamePositionInARecreatedTopicIsAnotherId) {
  auto before = WithHeaders({});
  before.record.timestamp = TimePoint(std::chrono::microseconds(1767225600000000));
  auto after = before;  // same topic, partition and offset: the topic was deleted and recreated
  after.record.timestamp += std::chrono::microseconds(1);
  EXPECT_NE(MessageIdOf(before), MessageIdOf(after));
  EXPECT_EQ(MessageIdOf(before), MessageIdOf(before)) << "a redelivery keeps its id";
}

TEST(HeaderNamesTest, AreTheDocumentedWireNames) {
  // Other transports and other languages' clients rely on these exact strings.
  EXPECT_EQ(kTraceparentHeader, "traceparent");
  EXPECT_EQ(kCorrelationIdHeader, "correlation_id");
  EXPECT_EQ(kReplyToHeader, "reply_to");
  EXPECT_EQ(kDeadlineHeader, "deadline");
  EXPECT_EQ(kErrorHeader, "error");
  EXPECT_EQ(kMessageIdHeader, "message_id");
}

}  // namespace
}  // namespace broker::client
