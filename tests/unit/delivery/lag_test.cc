// Lag per partition and total: backlog, in_flight, delayed, unsettled, oldest unsettled age,
// ack floor and DLQ depth equal a brute-force count, in a worked example and across random
// sequences.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "delivery_test_util.h"
#include "group_model.h"

namespace broker::testing {
namespace {

using Position = GroupModel::Position;

void ExpectLagEq(const PartitionLag& got, const PartitionLag& want, const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(got.end_offset, want.end_offset);
  EXPECT_EQ(got.ack_floor, want.ack_floor);
  EXPECT_EQ(got.backlog, want.backlog);
  EXPECT_EQ(got.in_flight, want.in_flight);
  EXPECT_EQ(got.delayed, want.delayed);
  EXPECT_EQ(got.unsettled, want.unsettled);
  EXPECT_EQ(got.oldest_unsettled_age, want.oldest_unsettled_age);
  EXPECT_EQ(got.expired, 0u);
}

class LagTest : public DeliveryTest {};

TEST_F(LagTest, WorkedExample) {
  CreateTopic(kTopic, 1);
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const TimePoint t0 = Now();
  std::vector<PublishResult> pos;
  for (int i = 0; i < 5; ++i) {
    pos.push_back(Publish(kTopic, "m" + std::to_string(i)));
    clock_->Advance(seconds(1));
  }
  GroupInfo info = Describe();
  EXPECT_EQ(info.partitions[0].backlog, 5u);
  EXPECT_EQ(info.partitions[0].unsettled, 5u);
  EXPECT_EQ(info.partitions[0].end_offset, Offset(5));
  EXPECT_EQ(info.partitions[0].ack_floor, Offset(0));
  EXPECT_EQ(info.partitions[0].oldest_unsettled_age, Now() - t0);

  std::vector<Delivery> got = Poll(*sub, 2);  // offsets 0, 1
  ASSERT_EQ(got.size(), 2u);
  DELIVERY_ASSERT_OK(sub->Nack(pos[0].partition, pos[0].offset, seconds(10), ""));
  DELIVERY_ASSERT_OK(sub->Ack(pos[1].partition, pos[1].offset));
  info = Describe();
  EXPECT_EQ(info.partitions[0].backlog, 3u);
  EXPECT_EQ(info.partitions[0].in_flight, 0u);
  EXPECT_EQ(info.partitions[0].delayed, 1u);
  EXPECT_EQ(info.partitions[0].unsettled, 4u);
  EXPECT_EQ(info.partitions[0].ack_floor, Offset(0));
  EXPECT_EQ(info.partitions[0].oldest_unsettled_age, Now() - t0);

  Advance(seconds(10));
  Delivery again = PollOne(*sub);
  ASSERT_EQ(again.record.offset, pos[0].offset);
  info = Describe();
  EXPECT_EQ(info.partitions[0].in_flight, 1u);
  EXPECT_EQ(info.partitions[0].delayed, 0u);
  DELIVERY_ASSERT_OK(sub->Ack(pos[0].partition, pos[0].offset));
  info = Describe();
  EXPECT_EQ(info.partitions[0].ack_floor, Offset(2));
  EXPECT_EQ(info.partitions[0].unsettled, 3u);
  EXPECT_EQ(info.partitions[0].oldest_unsettled_age, Now() - (t0 + seconds(2)));

  for (const Delivery& d : Poll(*sub)) {
    if (d.record.offset == Offset(3)) {
      DELIVERY_ASSERT_OK(sub->Reject(d.record.partition, d.record.offset, "bad"));
    } else {
      DELIVERY_ASSERT_OK(sub->Ack(d.record.partition, d.record.offset));
    }
  }
  RunTimers();
  clock_->Advance(seconds(7));
  info = Describe();
  EXPECT_EQ(info.partitions[0].unsettled, 0u);
  EXPECT_EQ(info.partitions[0].ack_floor, Offset(5));
  EXPECT_EQ(info.partitions[0].oldest_unsettled_age, microseconds(0));
  EXPECT_EQ(info.dlq_depth, 1u);
  EXPECT_EQ(info.dlq_oldest_age, seconds(7));
}

TEST_F(LagTest, TotalsAreSumsAndOldestIsTheMaximum) {
  CreateTopic(kTopic, 3);
  auto sub = Subscribe(kTopic, kGroup, "m1", 4);
  for (int i = 0; i < 12; ++i) {
    Publish(kTopic, "x", "k" + std::to_string(i));
    clock_->Advance(milliseconds(100));
  }
  Poll(*sub);
  const GroupInfo info = Describe();
  PartitionLag sum;
  for (const PartitionLag& p : info.partitions) {
    sum.backlog += p.backlog;
    sum.in_flight += p.in_flight;
    sum.delayed += p.delayed;
    sum.unsettled += p.unsettled;
    sum.oldest_unsettled_age = std::max(sum.oldest_unsettled_age, p.oldest_unsettled_age);
    sum.end_offset = Offset(sum.end_offset.value() + p.end_offset.value());
    sum.ack_floor = Offset(sum.ack_floor.value() + p.ack_floor.value());
    sum.expired += p.expired;
  }
  // The offsets are sums too (GroupInfo::total says so; it used to say they were unset).
  EXPECT_EQ(info.total.end_offset, sum.end_offset);
  EXPECT_EQ(info.total.end_offset, Offset(12));
  EXPECT_EQ(info.total.ack_floor, sum.ack_floor);
  EXPECT_EQ(info.total.expired, sum.expired);
  EXPECT_EQ(info.total.partition, PartitionId(0));
  EXPECT_EQ(info.total.backlog, sum.backlog);
  EXPECT_EQ(info.total.in_flight, sum.in_flight);
  EXPECT_EQ(info.total.delayed, sum.delayed);
  EXPECT_EQ(info.total.unsettled, sum.unsettled);
  EXPECT_EQ(info.total.oldest_unsettled_age, sum.oldest_unsettled_age);
  EXPECT_EQ(info.total.unsettled, 12u);
  EXPECT_EQ(info.total.in_flight, 4u);
}

struct LagParams {
  uint64_t seed;
  Ordering ordering;
};
void PrintTo(const LagParams& p, std::ostream* os) {
  *os << "seed " << p.seed << ", ordering " << static_cast<int>(p.ordering);
}

class RandomLagTest : public DeliveryTest, public ::testing::WithParamInterface<LagParams> {};

TEST_P(RandomLagTest, FiguresEqualBruteForceCountAfterEveryStep) {
  constexpr uint32_t kPartitions = 3;
  constexpr int kMembers = 2;
  CreateTopic(kTopic, kPartitions);
  GroupConfig config = ExactConfig(GetParam().ordering);
  config.ack_timeout = seconds(5);
  config.max_deliveries = 3;
  config.backoff = {.initial = seconds(1), .multiplier = 2, .max = seconds(4), .jitter = 0};
  GroupModel model(config, kPartitions);
  std::mt19937_64 rng(GetParam().seed);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };

  std::vector<std::string> names;
  std::vector<std::unique_ptr<Subscription>> members;
  for (int i = 0; i < kMembers; ++i) {
    names.push_back("m" + std::to_string(i));
    members.push_back(Subscribe(kTopic, kGroup, names.back(), 3, config));
  }
  std::map<Position, TimePoint> dead_time;  // letters in the model's DLQ -> when they died
  // Redrive under per_key is covered (and currently fails) in PerKeyTest.RedrivenMessage...;
  // keep this test about lag.
  const bool redrive = GetParam().ordering != Ordering::kPerKey;

  for (int step = 0; step < 1200 && !HasFailure(); ++step) {
    const size_t op = pick(100);
    const int i = static_cast<int>(pick(kMembers));
    const std::vector<Position> leased = model.LeasedBy(names[i]);
    const std::set<Position> dlq_before = model.dlq();
    if (op < 20) {
      std::optional<std::string> key = "k" + std::to_string(pick(8));
      model.Published(Publish(kTopic, "x", key), key, Now());
    } else if (op < 45) {
      model.ProcessDue(Now());
      for (const Delivery& d : Poll(*members[i], 1 + pick(3))) model.Delivered(d, names[i], Now());
    } else if (op < 80 && !leased.empty()) {
      const Position pos = leased[pick(leased.size())];
      const PartitionId p(pos.first);
      const Offset o(pos.second);
      if (op < 60) {
        DELIVERY_ASSERT_OK(members[i]->Ack(p, o));
        model.Acked(pos);
      } else if (op < 70) {
        DELIVERY_ASSERT_OK(members[i]->Nack(p, o, std::nullopt, "e"));
        model.Nacked(pos, std::nullopt, "e", Now());
      } else if (op < 75) {
        Must(members[i]->Extend(p, o));
        model.Extended(pos, Now());
      } else {
        DELIVERY_ASSERT_OK(members[i]->Reject(p, o, "r"));
        model.Rejected(pos, "r");
      }
    } else if (op < 95) {
      clock_->Advance(milliseconds(pick(4000)));
    } else if (op < 97 && redrive) {
      const RedriveResult r = Must(broker().Redrive(kTopic, kGroup, {}));
      EXPECT_EQ(r.redriven, model.RedriveAll());
      dead_time.clear();
    } else if (op < 98) {
      EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, {})), model.PurgeAll());
      dead_time.clear();
    } else {
      members[i].reset();
      model.Left(names[i], Now());
      members[i] = Subscribe(kTopic, kGroup, names[i], 3, config);
    }
    // Observe after the broker has run its timers (so dead-letter writes have completed).
    model.ProcessDue(Now());
    RunTimers();
    for (const Position& pos : model.dlq()) {
      if (!dlq_before.contains(pos)) dead_time[pos] = Now();
    }

    const GroupInfo info = Describe();
    ASSERT_EQ(info.partitions.size(), kPartitions);
    PartitionLag total;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      const PartitionLag want = model.Lag(p, Now());
      ExpectLagEq(info.partitions[p], want,
                  "step " + std::to_string(step) + " partition " + std::to_string(p));
      total.backlog += want.backlog;
      total.in_flight += want.in_flight;
      total.delayed += want.delayed;
      total.unsettled += want.unsettled;
      total.oldest_unsettled_age = std::max(total.oldest_unsettled_age, want.oldest_unsettled_age);
    }
    EXPECT_EQ(info.total.backlog, total.backlog) << "step " << step;
    EXPECT_EQ(info.total.in_flight, total.in_flight) << "step " << step;
    EXPECT_EQ(info.total.delayed, total.delayed) << "step " << step;
    EXPECT_EQ(info.total.unsettled, total.unsettled) << "step " << step;
    EXPECT_EQ(info.total.oldest_unsettled_age, total.oldest_unsettled_age) << "step " << step;
    EXPECT_EQ(info.dlq_depth, model.dlq().size()) << "step " << step;
    microseconds dlq_oldest{0};
    for (const auto& [pos, at] : dead_time) dlq_oldest = std::max(dlq_oldest, Now() - at);
    EXPECT_EQ(info.dlq_oldest_age, dlq_oldest) << "step " << step;
    uint64_t leased_total = 0;
    for (const MemberInfo& m : info.members) leased_total += m.leased;
    EXPECT_EQ(leased_total, total.in_flight) << "step " << step;
  }
  model.ExpectStatesMatch(broker(), kTopic, kGroup);
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, RandomLagTest,
    ::testing::Values(LagParams{11, Ordering::kNone}, LagParams{12, Ordering::kNone},
                      LagParams{13, Ordering::kPerKey}, LagParams{14, Ordering::kPerPartition}),
    [](const auto& param_info) { return "Seed" + std::to_string(param_info.param.seed); });

}  // namespace
}  // namespace broker::testing
