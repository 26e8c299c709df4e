// Retention of dead-letter topics: a retention pass deletes the batches of "<topic>.<group>.dlq"
// below the lowest letter the group still holds, so letters purged or redriven leave the topic,
// and no letter the group still lists is ever deleted.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

constexpr std::string_view kDlq = "orders.billing.dlq";

class DeadLetterRetentionTest : public OnDiskDeliveryTest {
 protected:
  DeadLetterRetentionTest() { sub_ = Subscribe(kTopic, kGroup, "m1"); }

  // Publishes `payload` and rejects it with `reason` as its last error: one dead letter, in a
  // batch of its own.
  PublishResult Reject(const std::string& payload, const std::string& reason) {
    const PublishResult pos = Publish(kTopic, payload);
    const Delivery d = PollOne(*sub_);
    if (d.record.offset != pos.offset) throw std::runtime_error("unexpected delivery");
    Must(sub_->Reject(pos.partition, pos.offset, reason));
    RunTimers();  // waits for the dead-letter write
    return pos;
  }

  // Payloads of the dead-letter topic's records, in offset order, and its first offset.
  std::vector<std::string> DlqPayloads() {
    std::vector<std::string> out;
    for (const Record& r : Must(broker().Read(kDlq, PartitionId(0), Offset(0))).records) {
      out.push_back(r.payload);
    }
    return out;
  }
  uint64_t DlqFirstOffset() {
    return Must(broker().DescribeTopic(kDlq)).partitions.at(0).first_offset.value();
  }
  // Payloads of the letters the group lists.
  std::vector<std::string> Listed() {
    std::vector<std::string> out;
    for (const DeadLetter& l : Must(broker().ListDeadLetters(kTopic, kGroup, 0))) {
      out.push_back(l.record.payload);
    }
    return out;
  }
  static DeadLetterFilter ErrorIs(std::string text) {
    DeadLetterFilter filter;
    filter.error_contains = std::move(text);
    return filter;
  }

  std::unique_ptr<Subscription> sub_;
};

TEST_F(DeadLetterRetentionTest, PurgedLettersLeaveTheTopicAtTheNextPassAndHeldOnesStay) {
  Reject("a", "purge-me");
  Reject("b", "purge-me");
  Reject("c", "keep");
  Reject("d", "purge-me");
  EXPECT_EQ(Must(broker().RunRetention()), 0u) << "nothing purged yet: every letter is held";
  EXPECT_EQ(DlqPayloads(), (std::vector<std::string>{"a", "b", "c", "d"}));

  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, ErrorIs("purge-me"))), 3u);
  // Batches go from the front only: "d" waits behind "c", which the group still holds.
  EXPECT_EQ(Must(broker().RunRetention()), 2u);
  EXPECT_EQ(DlqFirstOffset(), 2u);
  EXPECT_EQ(DlqPayloads(), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(Listed(), (std::vector<std::string>{"c"}));
  EXPECT_EQ(Describe().dlq_depth, 1u);

  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, {})), 1u);
  EXPECT_EQ(Must(broker().RunRetention()), 2u);
  EXPECT_TRUE(DlqPayloads().empty());
  EXPECT_EQ(DlqFirstOffset(), 4u);

  // The topic goes on at its end offset: a new letter is kept, listed and readable.
  Reject("e", "keep");
  EXPECT_EQ(Must(broker().RunRetention()), 0u);
  EXPECT_EQ(Listed(), (std::vector<std::string>{"e"}));
  EXPECT_EQ(Must(broker().ListDeadLetters(kTopic, kGroup, 0)).at(0).record.offset, Offset(4));
}

TEST_F(DeadLetterRetentionTest, APurgeSurvivesARestartAndThePassAfterItKeepsWhatIsHeld) {
  Reject("a", "purge-me");
  Reject("b", "keep");
  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, ErrorIs("purge-me"))), 1u);
  Restart({&sub_});  // between the purge and the pass
  EXPECT_EQ(Listed(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Must(broker().RunRetention()), 1u);
  EXPECT_EQ(DlqPayloads(), (std::vector<std::string>{"b"}));
  Restart();
  EXPECT_EQ(Listed(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Must(broker().RunRetention()), 0u);
}

// Redrive removes the letters it redrives from the group (the message is delivered again from
// its original topic, which the letter is not needed for): they go like purged ones. A message
// that dies again gets a new letter, which is kept.
TEST_F(DeadLetterRetentionTest, RedrivenLettersLeaveTheTopicAndANewLetterStays) {
  const PublishResult a = Reject("a", "first");
  Reject("b", "held");
  RedriveOptions options;
  options.filter = ErrorIs("first");
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, options)).redriven, 1u);
  EXPECT_EQ(Must(broker().RunRetention()), 1u);
  EXPECT_EQ(DlqPayloads(), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Listed(), (std::vector<std::string>{"b"}));

  const Delivery again = PollOne(*sub_);
  EXPECT_EQ(again.record.offset, a.offset);
  EXPECT_EQ(again.record.payload, "a");
  Must(sub_->Reject(a.partition, a.offset, "second"));
  RunTimers();
  EXPECT_EQ(Must(broker().RunRetention()), 0u);
  EXPECT_EQ(DlqPayloads(), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(Listed(), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(StateOf(a).status, MessageStatus::kDead);
}

// A dead-letter topic without a group holding letters in it keeps everything (another group's
// topic is left alone), and limits still apply as configured.
TEST_F(DeadLetterRetentionTest, AnotherGroupsDeadLettersAreNotTouched) {
  auto other = Subscribe(kTopic, "audit", "m2");
  Reject("a", "purge-me");
  const Delivery d = PollOne(*other);
  Must(other->Reject(d.record.partition, d.record.offset, "audit keeps it"));
  RunTimers();
  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, {})), 1u);
  EXPECT_EQ(Must(broker().RunRetention()), 1u);
  EXPECT_TRUE(DlqPayloads().empty());
  auto audit = Must(broker().ListDeadLetters(kTopic, "audit", 0));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].record.payload, "a");
}

}  // namespace
}  // namespace broker::testing
