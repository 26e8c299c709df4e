// A dead-letter topic belongs to one group: a group whose "<topic>.<group>.dlq" would be another
// group's is refused, and the topic cannot be deleted while its group exists (its dead-letter
// records point into it by offset, and a re-created topic would reuse those offsets).
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class DeadLetterTopicTest : public DeliveryTest {};

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
  CreateTopic(kTopic, 1);
  auto sub = Subscribe(kTopic, kGroup, "m1");
  Publish(kTopic, "poison");
  const Delivery d = PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(d.record.partition, d.record.offset, "bad"));
  RunTimers();
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

}  // namespace
}  // namespace broker::testing
