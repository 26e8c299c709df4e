// Dead letters: a handler that always fails reaches "<topic>.<group>.dlq" after exactly
// max_deliveries attempts, with the original record and the dlq.* headers, and the original is
// settled.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

// Microseconds since the epoch in the format of the dlq.*_at headers.
std::string Iso8601(TimePoint t) {
  const int64_t us = t.time_since_epoch().count();
  const std::time_t seconds_since_epoch = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&seconds_since_epoch, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1000000));
  return buf;
}

class DeadLetterTest : public DeliveryTest {
 protected:
  static constexpr std::string_view kDlq = "orders.billing.dlq";

  DeadLetterTest() { CreateTopic(kTopic, 3); }

  // Every record of the group's dead-letter topic.
  std::vector<Record> DlqRecords() {
    return Must(broker().Read(kDlq, PartitionId(0), Offset(0))).records;
  }
};

TEST_F(DeadLetterTest, AlwaysFailingHandlerReachesDlqAfterExactlyMaxDeliveries) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 4;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const Headers headers{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                        {"correlation_id", "c-17"}};
  const PublishResult pos = Publish(kTopic, "payload\x01\x02", "customer-9", headers);
  const PublishResult other = Publish(kTopic, "fine", "customer-10");

  TimePoint first_delivery;
  for (uint32_t attempt = 1; attempt <= 4; ++attempt) {
    std::vector<Delivery> got = Poll(*sub);
    bool found = false;
    for (const Delivery& d : got) {
      if (d.record.partition == pos.partition && d.record.offset == pos.offset) {
        found = true;
        EXPECT_EQ(d.attempt, attempt);
        if (attempt == 1) first_delivery = Now();
        DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, std::nullopt,
                                     "handler failed #" + std::to_string(attempt)));
      } else {
        DELIVERY_ASSERT_OK(sub->Ack(d.record.partition, d.record.offset));
      }
    }
    ASSERT_TRUE(found) << "attempt " << attempt << " was not delivered";
    if (attempt < 4) {
      EXPECT_EQ(StateOf(pos).status, MessageStatus::kDelayed);
      Advance(NominalBackoff(config.backoff, attempt));
    }
  }
  const TimePoint dead_at = Now();
  RunTimers();
  EXPECT_TRUE(Poll(*sub).empty());
  Advance(std::chrono::hours(24));
  EXPECT_TRUE(Poll(*sub).empty()) << "a dead message must never be delivered again";

  // The original is settled in the group: dead, and out of the lag.
  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kDead);
  EXPECT_EQ(state.attempts, 4u);
  EXPECT_EQ(state.last_error, "handler failed #4");
  EXPECT_EQ(StateOf(other).status, MessageStatus::kAcked);
  const GroupInfo info = Describe();
  EXPECT_EQ(info.dlq_topic, kDlq);
  EXPECT_EQ(info.dlq_depth, 1u);
  EXPECT_EQ(info.total.unsettled, 0u);
  EXPECT_EQ(info.partitions[pos.partition.value()].ack_floor,
            info.partitions[pos.partition.value()].end_offset);

  // The dead-letter topic holds the original record plus the metadata headers.
  const std::vector<Record> dlq = DlqRecords();
  ASSERT_EQ(dlq.size(), 1u);
  const Record& letter = dlq[0];
  EXPECT_EQ(letter.key, "customer-9");
  EXPECT_EQ(letter.payload, "payload\x01\x02");
  ASSERT_GE(letter.headers.size(), headers.size());
  EXPECT_EQ(Headers(letter.headers.begin(), letter.headers.begin() + 2), headers);
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.original_topic"), "orders");
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.original_partition"),
            std::to_string(pos.partition.value()));
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.original_offset"), std::to_string(pos.offset.value()));
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.group"), "billing");
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.reason"), "max_deliveries");
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.attempts"), "4");
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.last_error"), "handler failed #4");
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.first_delivery_at"), Iso8601(first_delivery));
  EXPECT_EQ(HeaderValue(letter.headers, "dlq.dead_at"), Iso8601(dead_at));

  // ListDeadLetters shows the same letter with its fields.
  auto letters = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].original_partition, pos.partition);
  EXPECT_EQ(letters[0].original_offset, pos.offset);
  EXPECT_EQ(letters[0].reason, "max_deliveries");
  EXPECT_EQ(letters[0].attempts, 4u);
  EXPECT_EQ(letters[0].last_error, "handler failed #4");
  EXPECT_EQ(letters[0].dead_at, dead_at);
  EXPECT_EQ(letters[0].record.payload, letter.payload);
  EXPECT_EQ(letters[0].record.headers, letter.headers);
}

TEST_F(DeadLetterTest, ExpiringLeasesAlsoCountTowardsMaxDeliveries) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 3;
  config.ack_timeout = seconds(10);
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "slow");
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(PollOne(*sub).attempt, attempt);
    Advance(seconds(10));  // expires
    if (attempt < 3) Advance(NominalBackoff(config.backoff, attempt));
  }
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  auto letters = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "max_deliveries");
  EXPECT_EQ(letters[0].attempts, 3u);
  EXPECT_NE(letters[0].last_error.find("lease expired"), std::string::npos)
      << letters[0].last_error;
}

TEST_F(DeadLetterTest, MaxDeliveriesOfOneDeadLettersOnFirstFailure) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 1;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, std::nullopt, "nope"));
  RunTimers();
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  EXPECT_EQ(DlqRecords().size(), 1u);
}

TEST_F(DeadLetterTest, RejectedLetterKeepsReasonAsLastError) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x", "k", Headers{{"a", "b"}});
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(pos.partition, pos.offset, "cannot parse"));
  RunTimers();
  const std::vector<Record> dlq = DlqRecords();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(HeaderValue(dlq[0].headers, "dlq.reason"), "rejected");
  EXPECT_EQ(HeaderValue(dlq[0].headers, "dlq.attempts"), "1");
  EXPECT_EQ(HeaderValue(dlq[0].headers, "dlq.last_error"), "cannot parse");
  EXPECT_EQ(HeaderValue(dlq[0].headers, "a"), "b");
  EXPECT_EQ(dlq[0].key, "k");
}

// Settle text is bounded in the engine, for the embedded library as for every transport: kept
// with the message on every later delivery and in the dead letter's header, it could otherwise
// grow a dead letter past the header limits.
TEST_F(DeadLetterTest, NackAndRejectTextIsCutTo4KiBAtACharacterBoundary) {
  std::string euros;
  while (euros.size() < 10000) euros += "\xE2\x82\xAC";  // U+20AC, 3 bytes
  static_assert(kMaxSettleTextBytes == 4096);
  const std::string kept = euros.substr(0, 4095);  // 4096 would split a character

  GroupConfig config = ExactConfig();
  config.max_deliveries = 3;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult nacked = Publish(kTopic, "n", "k1");
  const PublishResult rejected = Publish(kTopic, "r", "k2");
  for (const Delivery& d : Poll(*sub)) {
    if (d.record.offset == nacked.offset && d.record.partition == nacked.partition) {
      DELIVERY_ASSERT_OK(sub->Nack(d.record.partition, d.record.offset, std::nullopt, euros));
    } else {
      DELIVERY_ASSERT_OK(sub->Reject(d.record.partition, d.record.offset, euros));
    }
  }
  EXPECT_EQ(StateOf(nacked).last_error, kept);
  RunTimers();
  const std::vector<Record> dlq = DlqRecords();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(HeaderValue(dlq[0].headers, "dlq.last_error"), kept);
  EXPECT_EQ(Must(broker().ListDeadLetters(kTopic, kGroup, 0)).at(0).last_error, kept);
  EXPECT_EQ(StateOf(rejected).status, MessageStatus::kDead);

  // Text within the bound is kept whole; no text gets the default.
  std::string ascii(kMaxSettleTextBytes, 'x');
  Advance(std::chrono::seconds(60));
  const Delivery again = PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(again.record.partition, again.record.offset, std::nullopt, ascii));
  EXPECT_EQ(StateOf(nacked).last_error, ascii);
  Advance(std::chrono::seconds(60));
  const Delivery third = PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(third.record.partition, third.record.offset));
  EXPECT_EQ(StateOf(nacked).last_error, "nacked");
}

TEST_F(DeadLetterTest, OtherGroupsAreUnaffectedByOneGroupsDeadLetters) {
  auto billing = Subscribe(kTopic, kGroup, "m1");
  auto audit = Subscribe(kTopic, "audit", "a1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*billing);
  DELIVERY_ASSERT_OK(billing->Reject(pos.partition, pos.offset, "bad"));
  RunTimers();
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  EXPECT_EQ(StateIn(kTopic, "audit", pos.partition, pos.offset).status, MessageStatus::kPending);
  EXPECT_EQ(PollOne(*audit).record.offset, pos.offset);
  EXPECT_EQ(Describe(kTopic, "audit").dlq_depth, 0u);
  EXPECT_EQ(Describe().dlq_depth, 1u);
  EXPECT_TRUE(Must(broker().ListDeadLetters(kTopic, "audit", 0)).empty());
}

}  // namespace
}  // namespace broker::testing
