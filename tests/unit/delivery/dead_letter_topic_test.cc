// A dead-letter topic belongs to one group: a group whose "<topic>.<group>.dlq" would be another
// group's is refused, and the topic cannot be deleted while its group exists (its dead-letter
// records point into it by offset, and a re-created topic would reuse those offsets).
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class DeadLetterTopicTest : public DeliveryTest {
 protected:
  // Creates kTopic (one partition) and a member of kGroup, which rejects one message into the
  // group's dead-letter topic; returns the member.
  std::unique_ptr<Subscription> RejectOneIntoTheDeadLetterTopic() {
    CreateTopic(kTopic, 1);
    auto sub = Subscribe(kTopic, kGroup, "m1");
    Publish(kTopic, "poison");
    const Delivery d = PollOne(*sub);
    EXPECT_TRUE(sub->Reject(d.record.partition, d.record.offset, "bad").ok());
    RunTimers();
    return sub;
  }
};

TEST_F(DeadLetterTopicTest, AGroupThatWouldShareADeadLetterTopicIsRefused) {
  CreateTopic("shop", 1);
  CreateTopic("shop.eu", 1);
  DELIVERY_ASSERT_OK(broker().CreateGroup("shop", "eu.mailer", ExactConfig()));
  const Status refused = broker().CreateGroup("shop.eu", "mailer", ExactConfig());
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("shop.eu.mailer.dlq"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("'eu.mailer' on topic 'shop'"), std::string::npos)
      << refused.message();
  SubscribeOptions options;
  options.member = "m1";
  EXPECT_EQ(broker().Subscribe("shop.eu", "mailer", options).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Must(broker().ListGroups("shop.eu")).empty()) << "a refused group was created";
  // Other names are fine, and the first group's name on its own topic is unaffected.
  DELIVERY_EXPECT_OK(broker().CreateGroup("shop.eu", "mailer2", ExactConfig()));
}

TEST_F(DeadLetterTopicTest, ADeadLetterTopicCannotBeDeletedWhileItsGroupExists) {
  auto sub = RejectOneIntoTheDeadLetterTopic();
  const std::string dlq = Describe().dlq_topic;
  ASSERT_EQ(dlq, "orders.billing.dlq");
  ASSERT_EQ(Describe().dlq_depth, 1u);

  const Status refused = broker().DeleteTopic(dlq);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("group 'billing' on topic 'orders'"), std::string::npos)
      << refused.message();
  DELIVERY_EXPECT_OK(broker().DescribeTopic(dlq));
  EXPECT_EQ(Must(broker().ListDeadLetters(kTopic, kGroup, 0)).size(), 1u);

  sub.reset();
  DELIVERY_ASSERT_OK(broker().DeleteGroup(kTopic, kGroup));
  DELIVERY_EXPECT_OK(broker().DeleteTopic(dlq));
}

// Options::dead_letter_topic_config: the default keeps dead letters (limits with no limits);
// a configured retention is what the broker creates dead-letter topics with.
TEST_F(DeadLetterTopicTest, DeadLetterTopicsAreCreatedWithTheConfiguredRetention) {
  Options options = TestOptions();
  options.dead_letter_topic_config.retention_age = std::chrono::hours(24 * 7);
  Open(options);
  auto sub = RejectOneIntoTheDeadLetterTopic();
  const TopicInfo dlq = Must(broker().DescribeTopic(Describe().dlq_topic));
  EXPECT_EQ(dlq.config.retention, RetentionPolicy::kLimits);
  EXPECT_EQ(dlq.config.retention_age, std::chrono::hours(24 * 7));
  EXPECT_EQ(dlq.config.partitions, 1u);
}

TEST_F(DeadLetterTopicTest, TheDefaultDeadLetterTopicConfigKeepsEverything) {
  const TopicConfig config = Options{}.dead_letter_topic_config;
  EXPECT_EQ(config.partitions, 1u);
  EXPECT_EQ(config.retention, RetentionPolicy::kLimits);
  EXPECT_EQ(config.retention_age.count(), 0);
  EXPECT_EQ(config.retention_bytes, 0u);
}

TEST_F(DeadLetterTopicTest, ABadDeadLetterTopicConfigIsRefusedAtOpen) {
  Options partitions = TestOptions();
  partitions.dead_letter_topic_config.partitions = 2;
  const Status refused = Broker::Open(partitions).status();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("dead_letter_topic_config"), std::string::npos)
      << refused.message();
  Options cap_on_limits = TestOptions();
  cap_on_limits.dead_letter_topic_config.max_bytes = 10;
  EXPECT_EQ(Broker::Open(cap_on_limits).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace broker::testing
