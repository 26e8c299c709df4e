// Lease runs (docs/storage_format.md, 'r' records): the first deliveries of one poll are persisted
// as one record, and acks flip bits in it. Across a restart every offset of a run reads back as
// what it was: acked offsets stay acked in any ack order, the others are leases of the previous
// process (attempt 1), and offsets that left the run (nack, extend, member gone, dead letter)
// keep the state written for them.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "delivery/group_records.h"
#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class LeaseRunTest : public OnDiskDeliveryTest {
 protected:
  std::vector<PublishResult> PublishMany(int n) {
    std::vector<PublishResult> out;
    for (int i = 0; i < n; ++i) out.push_back(Publish(kTopic, "m" + std::to_string(i)));
    return out;
  }

  GroupConfig config_ = ExactConfig();
};

TEST_F(LeaseRunTest, AcksInAnyOrderStayAckedAndTheRestAreLeasesOfTheDeadProcess) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 1000, config_);
  const std::vector<PublishResult> pos = PublishMany(300);
  std::vector<Delivery> got;
  for (size_t step : {100u, 1u, 99u, 100u}) {  // several runs, the second one offset long
    for (Delivery& d : Poll(*sub, step)) got.push_back(std::move(d));
    Advance(microseconds(1));  // a poll at the same time and place would extend the run
  }
  ASSERT_EQ(got.size(), 300u);
  std::vector<size_t> order(300);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  std::vector<bool> acked(300, false);
  for (size_t k = 0; k < 200; ++k) {  // two thirds, in random order; one run entirely
    const size_t i = order[k];
    DELIVERY_ASSERT_OK(sub->Ack(got[i].record.partition, got[i].record.offset));
    acked[got[i].record.offset.value()] = true;
  }
  for (uint64_t o = 100; o < 101; ++o) {  // the one-offset run is acked whatever the shuffle did
    if (!acked[o]) DELIVERY_ASSERT_OK(sub->Ack(PartitionId(0), Offset(o)));
    acked[o] = true;
  }
  RunTimers();
  Restart({&sub});

  uint64_t unacked = 0;
  for (const PublishResult& p : pos) {
    const MessageGroupState s = StateOf(p);
    if (acked[p.offset.value()]) {
      EXPECT_EQ(s.status, MessageStatus::kAcked) << p.offset.value();
    } else {
      ++unacked;
      EXPECT_EQ(s.status, MessageStatus::kLeased) << p.offset.value();
      EXPECT_EQ(s.attempts, 1u) << p.offset.value();
    }
  }
  EXPECT_EQ(Describe().total.unsettled, unacked);

  auto again = Subscribe(kTopic, kGroup, "m1", 1000, config_);
  RunTimers();  // the old leases expire now
  Advance(seconds(1));
  got = Poll(*again);
  ASSERT_EQ(got.size(), unacked);
  for (const Delivery& d : got) {
    EXPECT_FALSE(acked[d.record.offset.value()]);
    EXPECT_EQ(d.attempt, 2u);
    DELIVERY_ASSERT_OK(again->Ack(d.record.partition, d.record.offset));
  }
  RunTimers();
  Restart({&again});
  EXPECT_EQ(Describe().total.unsettled, 0u);
  for (const PublishResult& p : pos) EXPECT_EQ(StateOf(p).status, MessageStatus::kAcked);
}

TEST_F(LeaseRunTest, OffsetsThatLeaveTheRunKeepTheirOwnState) {
  config_.max_deliveries = 2;
  auto sub = Subscribe(kTopic, kGroup, "m1", 1000, config_);
  const std::vector<PublishResult> pos = PublishMany(6);
  ASSERT_EQ(Poll(*sub).size(), 6u);  // one run of 6
  const PartitionId p(0);
  DELIVERY_ASSERT_OK(sub->Ack(p, Offset(0)));
  DELIVERY_ASSERT_OK(sub->Nack(p, Offset(1), seconds(60), "later"));
  Advance(seconds(10));
  Must(sub->Extend(p, Offset(2)));
  DELIVERY_ASSERT_OK(sub->Reject(p, Offset(3), "bad"));
  RunTimers();  // the dead-letter write and the batched changes
  // 4 and 5 stay leased in the run.
  Restart({&sub});

  EXPECT_EQ(StateOf(pos[0]).status, MessageStatus::kAcked);
  MessageGroupState s = StateOf(pos[1]);
  EXPECT_EQ(s.status, MessageStatus::kDelayed);
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.last_error, "later");
  EXPECT_EQ(StateOf(pos[3]).status, MessageStatus::kDead);
  for (int i : {2, 4, 5}) {  // 2 from its own record, 4 and 5 from the run
    s = StateOf(pos[i]);
    EXPECT_EQ(s.status, MessageStatus::kLeased) << i;
    EXPECT_EQ(s.attempts, 1u) << i;
    EXPECT_EQ(s.lease_expires_at, Now()) << i << ": leases of the previous process end at open";
  }
  EXPECT_EQ(Describe().dlq_depth, 1u);
  EXPECT_EQ(Describe().total.unsettled, 4u);

  // The old leases expire; with max_deliveries 2 everything gets one more attempt.
  auto again = Subscribe(kTopic, kGroup, "m1", 1000, config_);
  RunTimers();
  Advance(seconds(60));
  std::vector<Delivery> got = Poll(*again);
  ASSERT_EQ(got.size(), 4u);
  for (const Delivery& d : got) {
    EXPECT_EQ(d.attempt, 2u);
    DELIVERY_ASSERT_OK(again->Ack(d.record.partition, d.record.offset));
  }
  RunTimers();
  Restart({&again});
  EXPECT_EQ(Describe().total.unsettled, 0u);
}

TEST_F(LeaseRunTest, LeasesOfAMemberThatLeftAreWrittenAsAvailable) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 1000, config_);
  const std::vector<PublishResult> pos = PublishMany(5);
  ASSERT_EQ(Poll(*sub).size(), 5u);
  DELIVERY_ASSERT_OK(sub->Ack(PartitionId(0), Offset(2)));
  sub.reset();  // leaves: its leases go back to the group at once
  RunTimers();
  Restart();
  for (int i : {0, 1, 3, 4}) {
    const MessageGroupState s = StateOf(pos[i]);
    EXPECT_EQ(s.status, MessageStatus::kAvailable) << i;
    EXPECT_EQ(s.attempts, 1u) << i;
    EXPECT_EQ(s.last_error, "member left before settling") << i;
  }
  EXPECT_EQ(StateOf(pos[2]).status, MessageStatus::kAcked);
  auto again = Subscribe(kTopic, kGroup, "m2", 1000, config_);
  std::vector<Delivery> got = Poll(*again);
  ASSERT_EQ(got.size(), 4u);
  for (const Delivery& d : got) EXPECT_EQ(d.attempt, 2u);
}

TEST_F(LeaseRunTest, LongPollsSplitIntoRunsOfBoundedLength) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 10000, config_);
  std::vector<Message> batch(5000, Message{.payload = "x"});
  Must(broker().PublishBatch(kTopic, std::move(batch)));
  std::vector<Delivery> got = Poll(*sub, 5000);
  ASSERT_EQ(got.size(), 5000u);
  // Ack all but the last of each 1000.
  for (const Delivery& d : got) {
    if (d.record.offset.value() % 1000 != 999) {
      DELIVERY_ASSERT_OK(sub->Ack(d.record.partition, d.record.offset));
    }
  }
  RunTimers();
  Restart({&sub});
  GroupInfo info = Describe();
  EXPECT_EQ(info.total.unsettled, 5u);
  EXPECT_EQ(info.total.in_flight, 5u);
  EXPECT_EQ(info.total.ack_floor.value(), 999u);
  for (uint64_t o : {999u, 1999u, 2999u, 3999u, 4999u}) {
    EXPECT_EQ(StateIn(kTopic, kGroup, PartitionId(0), Offset(o)).status, MessageStatus::kLeased)
        << o;
  }
  EXPECT_EQ(StateIn(kTopic, kGroup, PartitionId(0), Offset(4095)).status, MessageStatus::kAcked);
  EXPECT_EQ(StateIn(kTopic, kGroup, PartitionId(0), Offset(4096)).status, MessageStatus::kAcked);
}

TEST(LeaseRunRecordTest, RoundTripsAndRejectsMalformedValues) {
  using delivery::DecodeLeaseRunRecord;
  using delivery::EncodeLeaseRunRecord;
  using delivery::LeaseRunRecord;
  LeaseRunRecord run;
  run.member = "worker-1";
  run.lease_expires = TimePoint(microseconds(1234567));
  run.delivered_at = TimePoint(microseconds(1200000));
  run.released = {true, false, false, true, false, false, false, false, true, false, true};
  const std::string value = EncodeLeaseRunRecord(run);
  EXPECT_EQ(value.size(), 4u + 4u + 8u + 8u + 8u + 2u);
  LeaseRunRecord back;
  ASSERT_TRUE(DecodeLeaseRunRecord(value, back));
  EXPECT_EQ(back.member, run.member);
  EXPECT_EQ(back.lease_expires, run.lease_expires);
  EXPECT_EQ(back.delivered_at, run.delivered_at);
  EXPECT_EQ(back.released, run.released);

  EXPECT_FALSE(DecodeLeaseRunRecord(value.substr(0, value.size() - 1), back)) << "short bitmap";
  EXPECT_FALSE(DecodeLeaseRunRecord(value + '\0', back)) << "long bitmap";
  std::string unused_bit = value;
  unused_bit.back() = static_cast<char>(unused_bit.back() | 0x80);  // bit 15 of an 11-offset run
  EXPECT_FALSE(DecodeLeaseRunRecord(unused_bit, back));
  LeaseRunRecord empty;
  EXPECT_FALSE(DecodeLeaseRunRecord(EncodeLeaseRunRecord(empty), back)) << "a run has an offset";
}

}  // namespace
}  // namespace broker::testing
