// Redrive and purge of dead letters: only the group that dead-lettered sees them again, filters,
// dry run, rate, attempts reset.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class RedriveTest : public DeliveryTest {
 protected:
  RedriveTest() {
    CreateTopic(kTopic, 2);
    config_.max_deliveries = 2;
    sub_ = Subscribe(kTopic, kGroup, "m1", 256, config_);
  }

  // Publishes a message and dead-letters it with `reason` ("rejected" via Reject, or
  // "max_deliveries" via nacks) and `error` as its last error.
  PublishResult Kill(const std::string& payload, const std::string& reason,
                     const std::string& error) {
    const PublishResult pos = Publish(kTopic, payload, payload);
    for (uint32_t attempt = 1;; ++attempt) {
      const Delivery d = PollOne(*sub_);
      if (d.record.offset != pos.offset || d.record.partition != pos.partition) {
        throw std::runtime_error("unexpected delivery");
      }
      if (reason == "rejected") {
        Must(sub_->Reject(pos.partition, pos.offset, error));
        break;
      }
      Must(sub_->Nack(pos.partition, pos.offset, milliseconds(0), error));
      if (attempt == config_.max_deliveries) break;
    }
    RunTimers();
    if (StateOf(pos).status != MessageStatus::kDead) throw std::runtime_error("not dead");
    return pos;
  }

  std::set<std::string> PollPayloads() {
    std::set<std::string> out;
    for (const Delivery& d : Poll(*sub_)) out.insert(d.record.payload);
    return out;
  }

  GroupConfig config_ = ExactConfig();
  std::unique_ptr<Subscription> sub_;
};

TEST_F(RedriveTest, ReachesOnlyTheGroupThatDeadLettered) {
  auto audit = Subscribe(kTopic, "audit", "a1");
  const PublishResult pos = Kill("poison", "rejected", "bad");
  for (const Delivery& d : Poll(*audit)) DELIVERY_ASSERT_OK(audit->Ack(d.record.partition, d.record.offset));
  const GroupInfo audit_before = Describe(kTopic, "audit");

  const RedriveResult r = Must(broker().Redrive(kTopic, kGroup, {}));
  EXPECT_EQ(r.matched, 1u);
  EXPECT_EQ(r.redriven, 1u);
  EXPECT_EQ(r.missing, 0u);

  EXPECT_TRUE(Poll(*audit).empty()) << "another group must never see a redriven message";
  EXPECT_EQ(StateIn(kTopic, "audit", pos.partition, pos.offset).status, MessageStatus::kAcked);
  const GroupInfo audit_after = Describe(kTopic, "audit");
  EXPECT_EQ(audit_after.total.unsettled, audit_before.total.unsettled);
  EXPECT_EQ(audit_after.dlq_depth, 0u);

  const Delivery d = PollOne(*sub_);
  EXPECT_EQ(d.record.offset, pos.offset);
  EXPECT_EQ(d.record.payload, "poison");
  EXPECT_EQ(d.attempt, 1u) << "attempts are reset";
  EXPECT_EQ(Describe().dlq_depth, 0u);
  DELIVERY_ASSERT_OK(sub_->Ack(pos.partition, pos.offset));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kAcked);
}

TEST_F(RedriveTest, AttemptsResetSoMaxDeliveriesCountsAgain) {
  const PublishResult pos = Kill("p", "max_deliveries", "e1");
  ASSERT_EQ(Must(broker().Redrive(kTopic, kGroup, {})).redriven, 1u);
  EXPECT_EQ(PollOne(*sub_).attempt, 1u);
  DELIVERY_ASSERT_OK(sub_->Nack(pos.partition, pos.offset, milliseconds(0), "e2"));
  EXPECT_EQ(PollOne(*sub_).attempt, 2u);
  DELIVERY_ASSERT_OK(sub_->Nack(pos.partition, pos.offset, milliseconds(0), "e3"));
  RunTimers();
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  auto letters = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].last_error, "e3");
  EXPECT_EQ(letters[0].attempts, 2u);
  // The DLQ topic holds both letters; the group counts only the live one.
  EXPECT_EQ(Must(broker().Read("orders.billing.dlq", PartitionId(0), Offset(0))).records.size(),
            2u);
}

TEST_F(RedriveTest, FilterByReason) {
  Kill("r1", "rejected", "x");
  Kill("m1", "max_deliveries", "x");
  Kill("r2", "rejected", "x");
  RedriveOptions options;
  options.filter.reason = "rejected";
  const RedriveResult r = Must(broker().Redrive(kTopic, kGroup, options));
  EXPECT_EQ(r.matched, 2u);
  EXPECT_EQ(r.redriven, 2u);
  EXPECT_EQ(PollPayloads(), (std::set<std::string>{"r1", "r2"}));
  auto left = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].record.payload, "m1");
}

TEST_F(RedriveTest, FilterByErrorText) {
  Kill("a", "rejected", "connection refused by db-3");
  Kill("b", "max_deliveries", "timeout calling db-3");
  Kill("c", "max_deliveries", "invalid json");
  RedriveOptions options;
  options.filter.error_contains = "db-3";
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, options)).redriven, 2u);
  EXPECT_EQ(PollPayloads(), (std::set<std::string>{"a", "b"}));
}

TEST_F(RedriveTest, FilterByAge) {
  Kill("old", "rejected", "x");
  Advance(std::chrono::minutes(10));
  Kill("new", "rejected", "x");
  Advance(std::chrono::minutes(1));
  RedriveOptions options;
  options.filter.older_than = std::chrono::minutes(5);
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, options)).redriven, 1u);
  EXPECT_EQ(PollPayloads(), (std::set<std::string>{"old"}));
  // "new" is now dead for exactly 5 minutes: the bound is inclusive (now - dead_at >= older_than).
  Advance(std::chrono::minutes(4));
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, options)).redriven, 1u);
}

TEST_F(RedriveTest, CombinedFiltersAndLimit) {
  Kill("a", "rejected", "db");
  Kill("b", "rejected", "db");
  Kill("c", "rejected", "db");
  Kill("d", "max_deliveries", "db");
  RedriveOptions options;
  options.filter.reason = "rejected";
  options.filter.error_contains = "db";
  options.filter.limit = 2;
  const RedriveResult r = Must(broker().Redrive(kTopic, kGroup, options));
  EXPECT_EQ(r.matched, 2u);
  EXPECT_EQ(r.redriven, 2u);
  EXPECT_EQ(PollPayloads().size(), 2u);
  EXPECT_EQ(Describe().dlq_depth, 2u);
}

TEST_F(RedriveTest, DryRunChangesNothing) {
  const PublishResult a = Kill("a", "rejected", "x");
  Kill("b", "max_deliveries", "y");
  const GroupInfo before = Describe();
  const auto letters_before = Must(broker().ListDeadLetters(kTopic, kGroup, 0));

  RedriveOptions options;
  options.dry_run = true;
  const RedriveResult r = Must(broker().Redrive(kTopic, kGroup, options));
  EXPECT_EQ(r.matched, 2u);
  EXPECT_EQ(r.redriven, 0u);
  options.filter.reason = "rejected";
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, options)).matched, 1u);

  RunTimers();
  EXPECT_TRUE(Poll(*sub_).empty());
  const GroupInfo after = Describe();
  EXPECT_EQ(after.dlq_depth, before.dlq_depth);
  EXPECT_EQ(after.total.unsettled, before.total.unsettled);
  EXPECT_EQ(Must(broker().ListDeadLetters(kTopic, kGroup, 0)).size(), letters_before.size());
  EXPECT_EQ(StateOf(a).status, MessageStatus::kDead);
}

TEST_F(RedriveTest, RateSpacesDueTimes) {
  std::vector<PublishResult> dead;
  for (int i = 0; i < 4; ++i) dead.push_back(Kill("p" + std::to_string(i), "rejected", "x"));
  RedriveOptions options;
  options.rate_per_second = 2;  // one every 500 ms
  const TimePoint start = Now();
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, options)).redriven, 4u);

  std::vector<TimePoint> due;
  for (const PublishResult& pos : dead) {
    const MessageGroupState s = StateOf(pos);
    due.push_back(s.status == MessageStatus::kDelayed ? s.delayed_until : start);
  }
  std::sort(due.begin(), due.end());
  for (size_t i = 0; i < due.size(); ++i) {
    EXPECT_EQ(due[i], start + milliseconds(500) * static_cast<int>(i)) << "letter " << i;
  }
  EXPECT_EQ(Poll(*sub_).size(), 1u);
  for (int i = 1; i < 4; ++i) {
    Advance(milliseconds(500) - microseconds(1));
    EXPECT_TRUE(Poll(*sub_).empty()) << "letter " << i << " early";
    Advance(microseconds(1));
    const Delivery d = PollOne(*sub_);
    EXPECT_EQ(d.attempt, 1u);
  }
}

TEST_F(RedriveTest, PurgeForgetsMatchingLettersButKeepsTheDlqRecords) {
  const PublishResult a = Kill("a", "rejected", "x");
  Kill("b", "max_deliveries", "y");
  Kill("c", "rejected", "z");
  DeadLetterFilter filter;
  filter.reason = "rejected";
  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, filter)), 2u);
  auto left = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].record.payload, "b");
  EXPECT_EQ(Describe().dlq_depth, 1u);
  EXPECT_EQ(Must(broker().Read("orders.billing.dlq", PartitionId(0), Offset(0))).records.size(),
            3u);
  // Purged letters cannot be redriven; the message stays settled.
  EXPECT_EQ(Must(broker().Redrive(kTopic, kGroup, {})).redriven, 1u);
  EXPECT_EQ(PollPayloads(), (std::set<std::string>{"b"}));
  EXPECT_NE(StateOf(a).status, MessageStatus::kAvailable);

  EXPECT_EQ(Must(broker().PurgeDeadLetters(kTopic, kGroup, {})), 0u);
}

TEST_F(RedriveTest, ListDeadLettersOldestFirstWithLimit) {
  Kill("first", "rejected", "x");
  Advance(seconds(1));
  Kill("second", "rejected", "x");
  Advance(seconds(1));
  Kill("third", "rejected", "x");
  auto all = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].record.payload, "first");
  EXPECT_EQ(all[1].record.payload, "second");
  EXPECT_EQ(all[2].record.payload, "third");
  EXPECT_LT(all[0].dead_at, all[1].dead_at);
  auto two = Must(broker().ListDeadLetters(kTopic, kGroup, 2));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].record.payload, "second");
}

}  // namespace
}  // namespace broker::testing
