// The NATS transport's pure pieces: name escaping, the percent-encoding of keys and headers, the
// message encoding round trip, JetStream publish acknowledgements and the group configuration kept
// in a consumer's description. No server needed.
#include <gtest/gtest.h>

#include "nats_names.h"
#include "nats_wire.h"

namespace broker::client::nats_internal {
namespace {

// libnats must be initialised before messages are created or destroyed (connecting does it).
const bool kLibraryOpen = [] { return nats_Open(-1) == NATS_OK; }();

TEST(NatsNamesTest, EscapingIsOneToOneAndLeavesNoDots) {
  EXPECT_EQ(EscapeToken("orders"), "orders");
  EXPECT_EQ(EscapeToken("order.created"), "order~2ecreated");
  EXPECT_EQ(EscapeToken("a_b-c"), "a_b-c");
  EXPECT_NE(EscapeToken("a.b"), EscapeToken("a_b"));
  EXPECT_NE(EscapeToken("a.b"), EscapeToken("a~2eb"));  // '~' itself is escaped
  EXPECT_EQ(EscapeToken("x y*>"), "x~20y~2a~3e");
}

TEST(NatsNamesTest, SubjectsKeepTopicsAndPresenceApart) {
  EXPECT_EQ(StreamName("order.created"), "order~2ecreated");
  EXPECT_EQ(PartitionSubject("broker", "order.created", 3), "broker.t.order~2ecreated.3");
  EXPECT_EQ(ServeSubject("broker", "0"), "broker.s.0");
  EXPECT_EQ(MemberSubject("broker", "t", "g.1", "m"), "broker.m.t.g~2e1.m");
  EXPECT_EQ(PartitionOfSubject("broker.t.orders.12"), 12u);
  EXPECT_EQ(PartitionOfSubject("broker.t.orders.x"), std::nullopt);
}

TEST(NatsNamesTest, GroupNamesFollowTheEngineRule) {
  EXPECT_TRUE(ValidateGroupName("email.v2_x-y").ok());
  EXPECT_EQ(ValidateGroupName("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateGroupName("a b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateGroupName(std::string(101, 'g')).code(), StatusCode::kInvalidArgument);
}

TEST(NatsNamesTest, GroupConfigRoundTripsThroughTheDescription) {
  GroupConfig config;
  config.start = StartPosition::kLatest;
  config.ordering = Ordering::kPerKey;
  config.ack_timeout = std::chrono::milliseconds(1500);
  config.max_deliveries = 7;
  config.backoff.initial = std::chrono::milliseconds(20);
  config.backoff.multiplier = 1.5;
  config.backoff.max = std::chrono::milliseconds(900);
  config.backoff.jitter = 0.25;
  auto decoded = DecodeGroupConfig(EncodeGroupConfig(config));
  ASSERT_TRUE(decoded.has_value()) << EncodeGroupConfig(config);
  EXPECT_EQ(decoded->start, config.start);
  EXPECT_EQ(decoded->ordering, config.ordering);
  EXPECT_EQ(decoded->ack_timeout, config.ack_timeout);
  EXPECT_EQ(decoded->max_deliveries, config.max_deliveries);
  EXPECT_EQ(decoded->backoff.initial, config.backoff.initial);
  EXPECT_DOUBLE_EQ(decoded->backoff.multiplier, config.backoff.multiplier);
  EXPECT_EQ(decoded->backoff.max, config.backoff.max);
  EXPECT_DOUBLE_EQ(decoded->backoff.jitter, config.backoff.jitter);
  EXPECT_FALSE(DecodeGroupConfig("made by the nats CLI").has_value());
  EXPECT_FALSE(DecodeGroupConfig("broker-group/1 max_deliveries=lots").has_value());
}

TEST(NatsWireTest, PercentEncodingRoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string encoded = PercentEncode(all);
  EXPECT_EQ(encoded.find_first_of("\r\n :&="), std::string::npos);
  EXPECT_EQ(PercentDecode(encoded), all);
  EXPECT_EQ(PercentDecode("%4"), std::nullopt);
  EXPECT_EQ(PercentDecode("%zz"), std::nullopt);
}

TEST(NatsWireTest, MessagesKeepKeyHeadersOrderAndBinaryValues) {
  ASSERT_TRUE(kLibraryOpen);
  Message m{.key = std::string("k\0ey", 4),
            .payload = std::string("bin\0ary", 7),
            .headers = {{"a", "1"}, {"a", "2"}, {"b", ""}, {"c=d&e", "x\r\ny"}},
            .idempotency_key = "pay:1"};
  auto msg = EncodeMessage("broker.t.orders.0", "", m);
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  const char* id = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(msg->get(), kMsgIdHeader, &id), NATS_OK);
  EXPECT_STREQ(id, "pay%3A1");
  const Record r = DecodeRecord(msg->get());
  EXPECT_EQ(r.key, m.key);
  EXPECT_EQ(r.payload, m.payload);
  EXPECT_EQ(r.headers, m.headers);

  auto keyless = EncodeMessage("s", "", Message{.payload = "p"});
  ASSERT_TRUE(keyless.ok());
  EXPECT_FALSE(DecodeRecord(keyless->get()).key.has_value());
  EXPECT_TRUE(DecodeRecord(keyless->get()).headers.empty());
}

TEST(NatsWireTest, PublishAcknowledgements) {
  PubAck ok = ParsePubAck(R"({"stream":"orders","seq":42})");
  EXPECT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.seq, 42u);
  EXPECT_FALSE(ok.duplicate);

  PubAck dup = ParsePubAck(R"({"stream":"orders","seq":7,"duplicate":true})");
  EXPECT_TRUE(dup.status.ok());
  EXPECT_EQ(dup.seq, 7u);
  EXPECT_TRUE(dup.duplicate);

  PubAck down = ParsePubAck(
      R"({"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}})");
  EXPECT_EQ(down.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(down.status.message().find("temporarily unavailable"), std::string::npos);

  EXPECT_EQ(ParsePubAck("not json").status.code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace broker::client::nats_internal
