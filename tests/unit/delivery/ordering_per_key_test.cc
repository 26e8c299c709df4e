// per_key ordering: a key's next message waits while an earlier one of that key is unsettled;
// different keys run in parallel; keys are not pinned to members. Targeted cases, then a
// randomized property test against GroupModel.
#include <gtest/gtest.h>

#include <random>

#include "delivery_test_util.h"
#include "group_model.h"

namespace broker::testing {
namespace {

using Position = GroupModel::Position;

class PerKeyTest : public DeliveryTest {
 protected:
  PerKeyTest() { CreateTopic(kTopic, 4); }
  std::unique_ptr<Subscription> Member(const std::string& name, uint32_t max_in_flight = 256,
                                       GroupConfig config = ExactConfig(Ordering::kPerKey)) {
    return Subscribe(kTopic, kGroup, name, max_in_flight, config);
  }
};

TEST_F(PerKeyTest, KeysNextMessageWaitsUntilTheEarlierIsAcked) {
  auto sub = Member("m1");
  const PublishResult a1 = Publish(kTopic, "a1", "a");
  const PublishResult a2 = Publish(kTopic, "a2", "a");
  const PublishResult b1 = Publish(kTopic, "b1", "b");
  std::vector<Delivery> got = Poll(*sub);
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> payloads;
  for (const Delivery& d : got) payloads.insert(d.record.payload);
  EXPECT_EQ(payloads, (std::set<std::string>{"a1", "b1"}));
  EXPECT_TRUE(Poll(*sub).empty());
  EXPECT_NE(StateOf(a2).status, MessageStatus::kLeased);

  DELIVERY_ASSERT_OK(sub->Ack(b1.partition, b1.offset));
  EXPECT_TRUE(Poll(*sub).empty()) << "acking another key does not release a2";
  DELIVERY_ASSERT_OK(sub->Ack(a1.partition, a1.offset));
  Delivery next = PollOne(*sub);
  EXPECT_EQ(next.record.payload, "a2");
}

TEST_F(PerKeyTest, NackedMessageHoldsItsKeyButNotOtherKeys) {
  auto sub = Member("m1");
  const PublishResult a1 = Publish(kTopic, "a1", "a");
  Publish(kTopic, "a2", "a");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(a1.partition, a1.offset, seconds(5), ""));
  EXPECT_TRUE(Poll(*sub).empty()) << "a2 must wait for the delayed a1";
  Publish(kTopic, "b1", "b");
  EXPECT_EQ(PollOne(*sub).record.payload, "b1");
  Advance(seconds(5));
  Delivery again = PollOne(*sub);
  EXPECT_EQ(again.record.payload, "a1");
  EXPECT_EQ(again.attempt, 2u);
  DELIVERY_ASSERT_OK(sub->Ack(a1.partition, a1.offset));
  EXPECT_EQ(PollOne(*sub).record.payload, "a2");
}

TEST_F(PerKeyTest, DeadLetteredMessageReleasesItsKey) {
  auto sub = Member("m1");
  const PublishResult a1 = Publish(kTopic, "a1", "a");
  Publish(kTopic, "a2", "a");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(a1.partition, a1.offset, "bad"));
  RunTimers();
  EXPECT_EQ(PollOne(*sub).record.payload, "a2");
}

TEST_F(PerKeyTest, KeysAreNotPinnedToMembers) {
  auto m1 = Member("m1");
  auto m2 = Member("m2");
  const PublishResult a1 = Publish(kTopic, "a1", "a");
  Publish(kTopic, "a2", "a");
  PollOne(*m1);
  EXPECT_TRUE(Poll(*m2).empty());
  DELIVERY_ASSERT_OK(m1->Ack(a1.partition, a1.offset));
  EXPECT_EQ(PollOne(*m2).record.payload, "a2") << "any member may take the key's next message";
}

TEST_F(PerKeyTest, LeavingMemberDoesNotStallItsKeys) {
  auto m1 = Member("m1");
  auto m2 = Member("m2");
  Publish(kTopic, "a1", "a");
  Publish(kTopic, "a2", "a");
  PollOne(*m1);
  m1.reset();
  Delivery d = PollOne(*m2);
  EXPECT_EQ(d.record.payload, "a1");
  EXPECT_EQ(d.attempt, 2u);
}

TEST_F(PerKeyTest, MessagesWithoutKeyAreNotSerialized) {
  auto sub = Member("m1");
  for (int i = 0; i < 5; ++i) Publish(kTopic, "n" + std::to_string(i));
  EXPECT_EQ(Poll(*sub).size(), 5u);
}

// A redriven message re-enters its key's queue. It must not be delivered while a later message
// of the same key is leased (and the later one must not be delivered while it is unsettled).
TEST_F(PerKeyTest, RedrivenMessageRespectsItsKey) {
  auto sub = Member("m1");
  const PublishResult a1 = Publish(kTopic, "a1", "a");
  const PublishResult a2 = Publish(kTopic, "a2", "a");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(a1.partition, a1.offset, "bad"));
  RunTimers();
  Delivery d2 = PollOne(*sub);
  ASSERT_EQ(d2.record.offset, a2.offset);

  // a2 is leased; redrive a1.
  ASSERT_EQ(Must(broker().Redrive(kTopic, kGroup, {})).redriven, 1u);
  std::vector<Delivery> got = Poll(*sub);
  for (const Delivery& d : got) {
    EXPECT_NE(d.record.offset, a1.offset)
        << "a1 delivered while a2 of the same key is leased (two of one key at once)";
  }
  DELIVERY_ASSERT_OK(sub->Ack(a2.partition, a2.offset));
  if (got.empty()) {
    EXPECT_EQ(PollOne(*sub).record.offset, a1.offset);
  }
}

// ---- Randomized property test -------------------------------------------------------------

struct PropertyParams {
  uint64_t seed;
  int steps;
};
void PrintTo(const PropertyParams& p, std::ostream* os) {
  *os << "seed " << p.seed << ", " << p.steps << " steps";
}

class PerKeyPropertyTest : public DeliveryTest,
                           public ::testing::WithParamInterface<PropertyParams> {};

TEST_P(PerKeyPropertyTest, RandomOperationsKeepPerKeyOrderAndLoseNothing) {
  constexpr uint32_t kPartitions = 4;
  constexpr int kKeys = 24;
  constexpr int kMembers = 3;
  CreateTopic(kTopic, kPartitions);
  GroupConfig config = ExactConfig(Ordering::kPerKey);
  config.ack_timeout = seconds(10);
  config.max_deliveries = 4;
  config.backoff = {.initial = seconds(1), .multiplier = 2, .max = seconds(8), .jitter = 0};
  std::mt19937_64 rng(GetParam().seed);
  auto chance = [&rng](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };

  GroupModel model(config, kPartitions);
  std::vector<std::string> names;
  std::vector<std::unique_ptr<Subscription>> members;
  for (int i = 0; i < kMembers; ++i) {
    names.push_back("member-" + std::to_string(i));
    members.push_back(Subscribe(kTopic, kGroup, names.back(), 1 + pick(6), config));
  }

  auto publish = [&] {
    std::optional<std::string> key;
    if (!chance(10)) key = "key-" + std::to_string(pick(kKeys));
    const PublishResult pos = Publish(kTopic, "payload", key);
    model.Published(pos, key, Now());
  };
  auto poll = [&](int i) {
    model.ProcessDue(Now());
    for (const Delivery& d : Poll(*members[i], 1 + pick(5))) model.Delivered(d, names[i], Now());
  };
  auto settle_all = [&](int i) {
    for (const Position& pos : model.LeasedBy(names[i])) {
      DELIVERY_ASSERT_OK(members[i]->Ack(PartitionId(pos.first), Offset(pos.second)));
      model.Acked(pos);
    }
  };

  for (int i = 0; i < 40; ++i) publish();
  for (int step = 0; step < GetParam().steps && !HasFailure(); ++step) {
    const int op = static_cast<int>(pick(100));
    const int i = static_cast<int>(pick(kMembers));
    const std::vector<Position> leased = model.LeasedBy(names[i]);
    if (op < 12) {
      publish();
    } else if (op < 42) {
      poll(i);
    } else if (op < 82 && !leased.empty()) {
      const Position pos = leased[pick(leased.size())];
      const PartitionId p(pos.first);
      const Offset o(pos.second);
      if (op < 62) {
        DELIVERY_ASSERT_OK(members[i]->Ack(p, o));
        model.Acked(pos);
      } else if (op < 72) {
        std::optional<milliseconds> delay;
        if (chance(50)) delay = milliseconds(pick(3000));
        DELIVERY_ASSERT_OK(members[i]->Nack(p, o, delay, "err-" + std::to_string(step)));
        model.Nacked(pos, delay, "err-" + std::to_string(step), Now());
      } else if (op < 79) {
        const TimePoint until = Must(members[i]->Extend(p, o));
        model.Extended(pos, Now());
        EXPECT_EQ(until, model.at(pos).lease_expires);
      } else {
        DELIVERY_ASSERT_OK(members[i]->Reject(p, o, "poison"));
        model.Rejected(pos, "poison");
      }
    } else if (op < 97) {
      clock_->Advance(microseconds(pick(6'000'000)));
      model.ProcessDue(Now());
      RunTimers();
    } else {
      members[i].reset();  // leaves: leases go back at once
      model.Left(names[i], Now());
      members[i] = Subscribe(kTopic, kGroup, names[i], 1 + pick(6), config);
    }
    if (step % 50 == 0) {
      RunTimers();
      model.ProcessDue(Now());
      model.ExpectStatesMatch(broker(), kTopic, kGroup);
    }
  }

  // Drain: a well-behaved consumer settles everything that is left.
  for (int round = 0; round < 200 && !model.AllSettled() && !HasFailure(); ++round) {
    for (int i = 0; i < kMembers; ++i) {
      poll(i);
      settle_all(i);
    }
    clock_->Advance(seconds(10));
    model.ProcessDue(Now());
    RunTimers();
  }
  ASSERT_TRUE(model.AllSettled()) << "messages left unsettled: lost or stuck";
  RunTimers();
  model.ExpectStatesMatch(broker(), kTopic, kGroup);

  const GroupInfo info = Describe();
  EXPECT_EQ(info.total.unsettled, 0u);
  EXPECT_EQ(info.dlq_depth, model.dlq().size());
  std::set<Position> letters;
  for (const DeadLetter& letter : Must(broker().ListDeadLetters(kTopic, kGroup, 0))) {
    EXPECT_TRUE(letters.emplace(letter.original_partition.value(), letter.original_offset.value())
                    .second)
        << "dead-lettered twice";
  }
  EXPECT_EQ(letters, model.dlq());
  const auto dlq_records = Must(broker().Read("orders.billing.dlq", PartitionId(0), Offset(0),
                                              {.max_records = 100000}));
  EXPECT_EQ(dlq_records.records.size(), model.dead_lettered());
  size_t acked = 0;
  for (const auto& [pos, m] : model.messages()) acked += m.state == GroupModel::State::kAcked;
  RecordProperty("messages", static_cast<int>(model.messages().size()));
  RecordProperty("acked", static_cast<int>(acked));
  RecordProperty("dead", static_cast<int>(model.dlq().size()));
}

INSTANTIATE_TEST_SUITE_P(Seeds, PerKeyPropertyTest,
                         ::testing::Values(PropertyParams{1, 1500}, PropertyParams{2, 1500},
                                           PropertyParams{3, 1500}, PropertyParams{0xfeed, 3000},
                                           PropertyParams{20260101, 3000}),
                         [](const auto& param_info) {
                           return "Seed" + std::to_string(param_info.param.seed);
                         });

}  // namespace
}  // namespace broker::testing
