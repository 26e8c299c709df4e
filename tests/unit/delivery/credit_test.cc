// Credit-based dispatch: a member never holds more than max_in_flight leases; delayed messages do
// not count; Poll's `max` bounds one call.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class CreditTest : public DeliveryTest {
 protected:
  CreditTest() { CreateTopic(kTopic, 3); }

  void PublishN(int n) {
    for (int i = 0; i < n; ++i) Publish(kTopic, "m" + std::to_string(i));
  }
  uint64_t LeasedBy(const std::string& member) {
    for (const MemberInfo& m : Describe().members) {
      if (m.name == member) return m.leased;
    }
    return 0;
  }
};

TEST_F(CreditTest, NeverMoreThanMaxInFlightLeased) {
  auto sub = Subscribe(kTopic, kGroup, "m1", /*max_in_flight=*/4);
  PublishN(20);
  std::vector<Delivery> got = Poll(*sub, 100);
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(LeasedBy("m1"), 4u);
  EXPECT_TRUE(Poll(*sub, 100).empty()) << "no credit left";

  // Each ack frees one credit.
  DELIVERY_ASSERT_OK(sub->Ack(got[0].record.partition, got[0].record.offset));
  EXPECT_EQ(Poll(*sub, 100).size(), 1u);
  EXPECT_TRUE(Poll(*sub, 100).empty());
  EXPECT_EQ(LeasedBy("m1"), 4u);
  EXPECT_EQ(Describe().total.in_flight, 4u);
}

TEST_F(CreditTest, PollMaxBoundsOneCall) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 100);
  PublishN(10);
  EXPECT_EQ(Poll(*sub, 3).size(), 3u);
  EXPECT_EQ(Poll(*sub, 0).size(), 0u);
  EXPECT_EQ(Poll(*sub, 100).size(), 7u);
}

TEST_F(CreditTest, DelayedMessagesDoNotCount) {
  auto sub = Subscribe(kTopic, kGroup, "m1", /*max_in_flight=*/2);
  PublishN(6);
  std::vector<Delivery> got = Poll(*sub);
  ASSERT_EQ(got.size(), 2u);
  for (const Delivery& d : got) {
    DELIVERY_ASSERT_OK(sub->Nack(d.record.partition, d.record.offset, seconds(60), "later"));
  }
  EXPECT_EQ(LeasedBy("m1"), 0u);
  EXPECT_EQ(Describe().total.delayed, 2u);
  got = Poll(*sub);
  ASSERT_EQ(got.size(), 2u) << "the two delayed messages must not use up credit";
  for (const Delivery& d : got) EXPECT_EQ(d.attempt, 1u);
}

TEST_F(CreditTest, ExpiredLeasesGiveCreditBack) {
  auto sub = Subscribe(kTopic, kGroup, "m1", /*max_in_flight=*/3);
  PublishN(6);
  ASSERT_EQ(Poll(*sub).size(), 3u);
  Advance(ExactConfig().ack_timeout);
  EXPECT_EQ(LeasedBy("m1"), 0u);
  std::vector<Delivery> got = Poll(*sub);
  ASSERT_EQ(got.size(), 3u);
  for (const Delivery& d : got) EXPECT_EQ(d.attempt, 1u) << "fresh ones while the others wait";
}

TEST_F(CreditTest, RejectAndDeadLetterGiveCreditBack) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 1;
  auto sub = Subscribe(kTopic, kGroup, "m1", /*max_in_flight=*/2, config);
  PublishN(4);
  std::vector<Delivery> got = Poll(*sub);
  ASSERT_EQ(got.size(), 2u);
  DELIVERY_ASSERT_OK(sub->Reject(got[0].record.partition, got[0].record.offset, "bad"));
  DELIVERY_ASSERT_OK(sub->Nack(got[1].record.partition, got[1].record.offset, std::nullopt, "x"));
  RunTimers();
  EXPECT_EQ(LeasedBy("m1"), 0u);
  EXPECT_EQ(Poll(*sub).size(), 2u);
}

TEST_F(CreditTest, CreditIsPerMember) {
  auto a = Subscribe(kTopic, kGroup, "a", 2);
  auto b = Subscribe(kTopic, kGroup, "b", 5);
  PublishN(20);
  EXPECT_EQ(Poll(*a).size(), 2u);
  EXPECT_EQ(Poll(*b).size(), 5u);
  EXPECT_TRUE(Poll(*a).empty());
  EXPECT_TRUE(Poll(*b).empty());
  EXPECT_EQ(Describe().total.in_flight, 7u);
  EXPECT_EQ(Describe().total.backlog, 13u);
}

TEST_F(CreditTest, ManyNackCyclesNeverLeakCredit) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 1000;
  auto sub = Subscribe(kTopic, kGroup, "m1", /*max_in_flight=*/2, config);
  PublishN(2);
  for (int round = 0; round < 50; ++round) {
    std::vector<Delivery> got = Poll(*sub);
    ASSERT_EQ(got.size(), 2u) << "round " << round;
    for (const Delivery& d : got) {
      DELIVERY_ASSERT_OK(sub->Nack(d.record.partition, d.record.offset, milliseconds(0), ""));
    }
  }
  EXPECT_EQ(LeasedBy("m1"), 0u);
}

}  // namespace
}  // namespace broker::testing
