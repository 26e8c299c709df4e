// Competing members (ordering none): the work is shared, each message goes to one member at a
// time, and a leaving member's leases go back to the group at once.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

using Position = std::pair<uint32_t, uint64_t>;

Position PositionOf(const Delivery& d) {
  return {d.record.partition.value(), d.record.offset.value()};
}

class CompetingMembersTest : public DeliveryTest {
 protected:
  CompetingMembersTest() { CreateTopic(kTopic, 4); }
};

TEST_F(CompetingMembersTest, MembersShareTheWorkWithoutOverlap) {
  std::vector<std::unique_ptr<Subscription>> members;
  for (int i = 0; i < 3; ++i) members.push_back(Subscribe(kTopic, kGroup, "m" + std::to_string(i), 5));
  for (int i = 0; i < 60; ++i) Publish(kTopic, "p" + std::to_string(i), "key-" + std::to_string(i));

  std::map<Position, int> delivered_to;
  std::vector<int> per_member(3, 0);
  for (int round = 0; round < 100 && delivered_to.size() < 60; ++round) {
    for (int i = 0; i < 3; ++i) {
      std::vector<Delivery> got = Poll(*members[i], 2);
      for (const Delivery& d : got) {
        auto [it, inserted] = delivered_to.emplace(PositionOf(d), i);
        EXPECT_TRUE(inserted) << "delivered twice: partition " << it->first.first << " offset "
                              << it->first.second;
        ++per_member[i];
        DELIVERY_ASSERT_OK(members[i]->Ack(d.record.partition, d.record.offset));
      }
    }
  }
  EXPECT_EQ(delivered_to.size(), 60u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(per_member[i], 20) << "member " << i;
  EXPECT_EQ(Describe().total.unsettled, 0u);
}

TEST_F(CompetingMembersTest, ALeasedMessageIsNotGivenToAnotherMember) {
  auto a = Subscribe(kTopic, kGroup, "a");
  auto b = Subscribe(kTopic, kGroup, "b");
  Publish(kTopic, "only");
  EXPECT_EQ(Poll(*a).size(), 1u);
  EXPECT_TRUE(Poll(*b).empty());
  Advance(ExactConfig().ack_timeout - microseconds(1));
  EXPECT_TRUE(Poll(*b).empty());
}

TEST_F(CompetingMembersTest, ExpiredLeaseGoesToAnotherMember) {
  auto a = Subscribe(kTopic, kGroup, "a");
  auto b = Subscribe(kTopic, kGroup, "b");
  const PublishResult pos = Publish(kTopic, "only");
  PollOne(*a);
  Advance(ExactConfig().ack_timeout);
  Advance(seconds(1));  // backoff after the first failure
  Delivery d = PollOne(*b);
  EXPECT_EQ(d.record.offset, pos.offset);
  EXPECT_EQ(d.attempt, 2u);
  EXPECT_EQ(StateOf(pos).leased_by, "b");
  EXPECT_EQ(a->Ack(pos.partition, pos.offset).code(), StatusCode::kFailedPrecondition);
  DELIVERY_EXPECT_OK(b->Ack(pos.partition, pos.offset));
}

TEST_F(CompetingMembersTest, LeavingMembersLeasesGoBackAtOnce) {
  auto a = Subscribe(kTopic, kGroup, "a", 5);
  auto b = Subscribe(kTopic, kGroup, "b", 20);
  for (int i = 0; i < 10; ++i) Publish(kTopic, "p" + std::to_string(i));
  std::vector<Delivery> a_got = Poll(*a);
  ASSERT_EQ(a_got.size(), 5u);
  std::vector<Delivery> b_got = Poll(*b);
  ASSERT_EQ(b_got.size(), 5u);
  for (const Delivery& d : b_got) DELIVERY_ASSERT_OK(b->Ack(d.record.partition, d.record.offset));

  a.reset();  // leaves; the clock does not move
  std::set<Position> returned;
  for (const Delivery& d : a_got) {
    const MessageGroupState state = StateIn(kTopic, kGroup, d.record.partition, d.record.offset);
    EXPECT_EQ(state.status, MessageStatus::kAvailable);
    EXPECT_EQ(state.attempts, 1u);
    returned.insert(PositionOf(d));
  }
  const GroupInfo info = Describe();
  ASSERT_EQ(info.members.size(), 1u);
  EXPECT_EQ(info.total.in_flight, 0u);

  std::vector<Delivery> again = Poll(*b);
  ASSERT_EQ(again.size(), 5u);
  for (const Delivery& d : again) {
    EXPECT_TRUE(returned.contains(PositionOf(d)));
    EXPECT_EQ(d.attempt, 2u);
  }
}

TEST_F(CompetingMembersTest, LeavingOnTheLastAttemptDeadLetters) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 1;
  auto a = Subscribe(kTopic, kGroup, "a", 256, config);
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*a);
  a.reset();
  RunTimers();
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  EXPECT_EQ(Describe().dlq_depth, 1u);
}

}  // namespace
}  // namespace broker::testing
