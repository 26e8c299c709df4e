// per_partition ordering: one member owns a partition at a time; ownership moves when members
// join or leave; a new owner gets messages only after the old owner's leases there are settled
// or expired.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "delivery_test_util.h"
#include "group_model.h"
#include "storage/partitioner.h"

namespace broker::testing {
namespace {

using Position = GroupModel::Position;

class PerPartitionTest : public DeliveryTest {
 protected:
  static constexpr uint32_t kPartitions = 4;

  PerPartitionTest() { CreateTopic(kTopic, kPartitions); }

  std::unique_ptr<Subscription> Member(const std::string& name, uint32_t max_in_flight = 256) {
    return Subscribe(kTopic, kGroup, name, max_in_flight, ExactConfig(Ordering::kPerPartition));
  }

  // Publishes `n` messages to each partition. Returns their positions per partition.
  std::vector<std::vector<PublishResult>> PublishToEach(int n) {
    std::vector<std::vector<PublishResult>> out(kPartitions);
    for (uint32_t p = 0; p < kPartitions; ++p) {
      const std::string key = KeyFor(p);
      for (int i = 0; i < n; ++i) out[p].push_back(Publish(kTopic, "p" + std::to_string(p), key));
    }
    return out;
  }

  // A key that lands on `partition`.
  std::string KeyFor(uint32_t partition) {
    auto it = keys_.find(partition);
    if (it != keys_.end()) return it->second;
    for (int i = 0;; ++i) {
      std::string key = "key-" + std::to_string(i);
      if (storage::PartitionForKey(key, kPartitions).value() == partition) {
        return keys_[partition] = key;
      }
    }
  }

  // member -> owned partitions, from DescribeGroup.
  std::map<std::string, std::set<uint32_t>> Owners() {
    std::map<std::string, std::set<uint32_t>> out;
    for (const MemberInfo& m : Describe().members) {
      auto& owned = out[m.name];
      for (PartitionId p : m.owned_partitions) owned.insert(p.value());
    }
    return out;
  }

  static void ExpectOnePerPartition(const std::map<std::string, std::set<uint32_t>>& owners) {
    std::map<uint32_t, int> count;
    for (const auto& [name, owned] : owners) {
      for (uint32_t p : owned) ++count[p];
    }
    for (uint32_t p = 0; p < kPartitions; ++p) {
      EXPECT_EQ(count[p], owners.empty() ? 0 : 1) << "owners of partition " << p;
    }
  }

  std::map<uint32_t, std::string> keys_;
};

TEST_F(PerPartitionTest, SingleMemberOwnsEveryPartition) {
  auto a = Member("a");
  EXPECT_EQ(Owners()["a"], (std::set<uint32_t>{0, 1, 2, 3}));
  PublishToEach(2);
  EXPECT_EQ(Poll(*a).size(), 8u);
}

TEST_F(PerPartitionTest, MembersGetOnlyTheirOwnPartitions) {
  auto a = Member("a");
  auto b = Member("b");
  const auto owners = Owners();
  ExpectOnePerPartition(owners);
  EXPECT_FALSE(owners.at("a").empty());
  EXPECT_FALSE(owners.at("b").empty());
  PublishToEach(3);
  for (const Delivery& d : Poll(*a)) EXPECT_TRUE(owners.at("a").contains(d.record.partition.value()));
  for (const Delivery& d : Poll(*b)) EXPECT_TRUE(owners.at("b").contains(d.record.partition.value()));
  EXPECT_EQ(Describe().total.in_flight, 12u);
}

TEST_F(PerPartitionTest, OwnerGetsItsPartitionInOffsetOrder) {
  auto a = Member("a", /*max_in_flight=*/1);
  auto positions = PublishToEach(5);
  std::map<uint32_t, uint64_t> next;
  for (int i = 0; i < 20; ++i) {
    Delivery d = PollOne(*a);
    const uint32_t p = d.record.partition.value();
    EXPECT_EQ(d.record.offset.value(), next[p]) << "partition " << p;
    next[p] = d.record.offset.value() + 1;
    DELIVERY_ASSERT_OK(a->Ack(d.record.partition, d.record.offset));
  }
}

TEST_F(PerPartitionTest, JoiningMemberWaitsForTheOldOwnersLeases) {
  auto a = Member("a");
  PublishToEach(2);
  std::vector<Delivery> a_got = Poll(*a);  // a holds leases in every partition
  ASSERT_EQ(a_got.size(), 2 * kPartitions);
  PublishToEach(2);  // more work, not yet delivered

  auto b = Member("b");
  const auto owners = Owners();
  ExpectOnePerPartition(owners);
  const std::set<uint32_t> moved = owners.at("b");
  ASSERT_FALSE(moved.empty());
  EXPECT_TRUE(Poll(*b).empty()) << "moved partitions handed over while the old owner holds leases";

  // a keeps the right to settle what it holds; once it has, b takes over that partition.
  for (uint32_t p : moved) {
    for (const Delivery& d : a_got) {
      if (d.record.partition.value() != p) continue;
      DELIVERY_ASSERT_OK(a->Ack(d.record.partition, d.record.offset));
      if (d.record.offset.value() == 0) {
        EXPECT_TRUE(Poll(*b).empty()) << "partition " << p << " handed over with a lease left";
      }
    }
    std::vector<Delivery> got = Poll(*b);
    ASSERT_EQ(got.size(), 2u) << "partition " << p << " still held back after its leases settled";
    for (const Delivery& d : got) {
      EXPECT_EQ(d.record.partition.value(), p);
      EXPECT_EQ(d.attempt, 1u);
    }
  }
  // a gets the new messages of the partitions it kept, never those of moved ones.
  std::vector<Delivery> rest = Poll(*a);
  EXPECT_EQ(rest.size(), 2 * (kPartitions - moved.size()));
  for (const Delivery& d : rest) EXPECT_FALSE(moved.contains(d.record.partition.value()));
}

TEST_F(PerPartitionTest, OldOwnersExpiredLeaseAlsoHandsOver) {
  auto a = Member("a");
  PublishToEach(2);
  std::vector<Delivery> a_got = Poll(*a);
  ASSERT_EQ(a_got.size(), 8u);
  auto b = Member("b");
  const std::set<uint32_t> moved = Owners().at("b");
  EXPECT_TRUE(Poll(*b).empty());
  Advance(ExactConfig().ack_timeout);  // a's leases expire
  Advance(seconds(1));                 // and their backoff passes
  std::vector<Delivery> got = Poll(*b);
  EXPECT_EQ(got.size(), 2 * moved.size());
  for (const Delivery& d : got) {
    EXPECT_TRUE(moved.contains(d.record.partition.value()));
    EXPECT_EQ(d.attempt, 2u);
  }
}

TEST_F(PerPartitionTest, LeavingOwnersPartitionsMoveWithTheirLeasesAtOnce) {
  auto a = Member("a");
  auto b = Member("b");
  PublishToEach(2);
  const std::set<uint32_t> b_owned = Owners().at("b");
  std::vector<Delivery> b_got = Poll(*b);
  ASSERT_EQ(b_got.size(), 2 * b_owned.size());
  for (const Delivery& d : Poll(*a)) DELIVERY_ASSERT_OK(a->Ack(d.record.partition, d.record.offset));

  b.reset();
  EXPECT_EQ(Owners().at("a"), (std::set<uint32_t>{0, 1, 2, 3}));
  std::vector<Delivery> got = Poll(*a);  // no clock movement needed
  ASSERT_EQ(got.size(), b_got.size());
  for (const Delivery& d : got) {
    EXPECT_TRUE(b_owned.contains(d.record.partition.value()));
    EXPECT_EQ(d.attempt, 2u);
  }
}

TEST_F(PerPartitionTest, NackInOwnedPartitionDoesNotBlockTheRest) {
  auto a = Member("a", /*max_in_flight=*/1);
  auto positions = PublishToEach(2);
  Delivery first = PollOne(*a);
  DELIVERY_ASSERT_OK(a->Nack(first.record.partition, first.record.offset, seconds(30), ""));
  Delivery second = PollOne(*a);
  EXPECT_FALSE(second.record.partition == first.record.partition &&
               second.record.offset == first.record.offset);
}

// Random joins, leaves, polls and settles: at every delivery the receiver owns the partition
// and nobody else holds a lease in it; every message ends settled.
TEST_F(PerPartitionTest, RandomJoinsAndLeavesKeepOneOwnerPerPartition) {
  GroupConfig config = ExactConfig(Ordering::kPerPartition);
  config.ack_timeout = seconds(10);
  config.max_deliveries = 1000;  // nothing dead-letters: the test is about ownership
  GroupModel model(config, kPartitions);
  std::mt19937_64 rng(7);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (uint32_t p = 0; p < kPartitions; ++p) KeyFor(p);

  std::map<std::string, std::unique_ptr<Subscription>> members;
  int joined = 0;
  auto join = [&] {
    const std::string name = "m" + std::to_string(joined++);
    members[name] = Subscribe(kTopic, kGroup, name, 1 + pick(4), config);
  };
  join();
  for (int step = 0; step < 1500 && !HasFailure(); ++step) {
    const size_t op = pick(100);
    if (op < 15) {
      const uint32_t p = static_cast<uint32_t>(pick(kPartitions));
      const PublishResult pos = Publish(kTopic, "x", keys_.at(p));
      model.Published(pos, keys_.at(p), Now());
    } else if (op < 20 && members.size() < 4) {
      join();
    } else if (op < 25 && members.size() > 1) {
      auto it = std::next(members.begin(), static_cast<long>(pick(members.size())));
      const std::string name = it->first;
      members.erase(it);
      model.Left(name, Now());
    } else if (op < 55) {
      auto it = std::next(members.begin(), static_cast<long>(pick(members.size())));
      const auto owners = Owners();
      ExpectOnePerPartition(owners);
      model.ProcessDue(Now());
      for (const Delivery& d : Poll(*it->second, 1 + pick(4))) {
        const uint32_t p = d.record.partition.value();
        EXPECT_TRUE(owners.at(it->first).contains(p))
            << it->first << " got partition " << p << " it does not own";
        for (const auto& [pos, m] : model.messages()) {
          if (pos.first == p && m.state == GroupModel::State::kLeased) {
            EXPECT_EQ(m.holder, it->first) << "partition " << p << " has leases of two members";
          }
        }
        model.Delivered(d, it->first, Now());
      }
    } else if (op < 90) {
      auto it = std::next(members.begin(), static_cast<long>(pick(members.size())));
      const std::vector<Position> leased = model.LeasedBy(it->first);
      if (leased.empty()) continue;
      const Position pos = leased[pick(leased.size())];
      if (op < 80) {
        DELIVERY_ASSERT_OK(it->second->Ack(PartitionId(pos.first), Offset(pos.second)));
        model.Acked(pos);
      } else {
        DELIVERY_ASSERT_OK(
            it->second->Nack(PartitionId(pos.first), Offset(pos.second), seconds(2), "e"));
        model.Nacked(pos, seconds(2), "e", Now());
      }
    } else {
      clock_->Advance(seconds(pick(8)));
      model.ProcessDue(Now());
      RunTimers();
    }
  }
  for (int round = 0; round < 100 && !model.AllSettled() && !HasFailure(); ++round) {
    for (auto& [name, sub] : members) {
      model.ProcessDue(Now());
      for (const Delivery& d : Poll(*sub)) model.Delivered(d, name, Now());
      for (const Position& pos : model.LeasedBy(name)) {
        DELIVERY_ASSERT_OK(sub->Ack(PartitionId(pos.first), Offset(pos.second)));
        model.Acked(pos);
      }
    }
    clock_->Advance(seconds(10));
    model.ProcessDue(Now());
    RunTimers();
  }
  EXPECT_TRUE(model.AllSettled());
  EXPECT_EQ(Describe().total.unsettled, 0u);
  model.ExpectStatesMatch(broker(), kTopic, kGroup);
}

}  // namespace
}  // namespace broker::testing
