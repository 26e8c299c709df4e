// The torture's checker must catch what it claims to: each test plants one breach of the contract
// in an otherwise clean history (over a small embedded broker) and expects the checker to name it.
#include "torture_checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "torture_history.h"
#include "torture_workload.h"

namespace broker::torture {
namespace {

using std::chrono::milliseconds;

class CheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.in_memory = true;
    options.data_dir = "checker-test";
    options.background_work = false;
    auto opened = Broker::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    broker_ = std::move(opened).value();
    ASSERT_TRUE(broker_->CreateTopic(kTopic, {.partitions = kPartitions}).ok());
    for (const GroupSpec& g : kGroups) {
      ASSERT_TRUE(broker_->CreateGroup(kTopic, g.name, TortureGroupConfig(g.ordering)).ok());
    }
    // Six normal messages, published, delivered once to each group and acked.
    for (uint64_t seq = 0; ids_.size() < 6; ++seq) {
      const std::string id = MessageIdFor(0, seq);
      if (ClassOf(id) == MessageClass::kNormal) Publish(id);
    }
    for (const GroupSpec& g : kGroups) ConsumeAndAck(std::string(g.name));
  }

  void Publish(const std::string& id) {
    history_.PublishCall({id});
    auto result = broker_->Publish(kTopic, MakeMessage(id));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    history_.PublishAnswer({id}, std::vector<PublishResult>{*result});
    ids_.push_back(id);
  }

  void ConsumeAndAck(const std::string& group) {
    auto sub = broker_->Subscribe(kTopic, group, {.member = group + "-0"});
    ASSERT_TRUE(sub.ok()) << sub.status().ToString();
    auto polled = (*sub)->Poll(100, milliseconds(100));
    ASSERT_TRUE(polled.ok());
    for (const Delivery& d : *polled) {
      std::string id;
      for (const auto& [k, v] : d.record.headers) {
        if (k == kIdHeader) id = v;
      }
      const auto now = std::chrono::steady_clock::now();
      history_.Delivered(
          {group, group + "-0", id, d.record.partition, d.record.offset, d.attempt, now});
      ASSERT_TRUE((*sub)->Ack(d.record.partition, d.record.offset).ok());
      history_.Settled(
          {group, id, d.attempt, SettleKind::kAck, now, std::chrono::steady_clock::now(), {}});
    }
    ASSERT_TRUE(broker_->RunDeliveryTimers().ok());  // persists the acks
  }

  TortureFigures Check() { return CheckTorture(*broker_, history_); }

  static bool Names(const TortureFigures& f, const std::string& text) {
    return std::any_of(f.violations.begin(), f.violations.end(),
                       [&](const std::string& v) { return v.find(text) != std::string::npos; });
  }

  // A later delivery of ids_[0] to `group`, as if brokerd had handed it out again.
  void DeliverAgain(const std::string& group, uint32_t attempt, std::string member,
                    milliseconds after = milliseconds(0)) {
    history_.Delivered({group, std::move(member), ids_[0], PartitionId(0), Offset(0), attempt,
                        std::chrono::steady_clock::now() + after});
  }

  std::unique_ptr<Broker> broker_;
  TortureHistory history_;
  std::vector<std::string> ids_;
};

TEST_F(CheckerTest, ACleanHistoryHasNoViolations) {
  const TortureFigures f = Check();
  EXPECT_TRUE(f.violations.empty()) << f.violations.front();
  EXPECT_EQ(f.acknowledged, 6u);
  EXPECT_EQ(f.log_records, 6u);
  EXPECT_EQ(f.groups.at("billing").acked, 6u);
}

TEST_F(CheckerTest, AnAcknowledgedPublishMissingFromTheLogIsALoss) {
  history_.PublishCall({"p9-0"});
  history_.PublishAnswer({"p9-0"}, std::vector<PublishResult>{{PartitionId(1), Offset(77)}});
  const TortureFigures f = Check();
  EXPECT_EQ(f.lost, 1u);
  EXPECT_TRUE(Names(f, "LOST: p9-0"));
}

TEST_F(CheckerTest, APositionAcknowledgedTwiceIsAReusedOffset) {
  auto first = history_.publishes().at(ids_[0]).result;
  history_.PublishCall({"p9-0"});
  history_.PublishAnswer({"p9-0"}, std::vector<PublishResult>{first});
  EXPECT_TRUE(Names(Check(), "an offset was reused"));
}

TEST_F(CheckerTest, StoredBytesThatDifferFromWhatWasPublishedAreALoss) {
  Message altered = MakeMessage("p9-0");
  altered.payload.back() ^= 1;
  history_.PublishCall({"p9-0"});
  auto result = broker_->Publish(kTopic, altered);
  ASSERT_TRUE(result.ok());
  history_.PublishAnswer({"p9-0"}, std::vector<PublishResult>{*result});
  const TortureFigures f = Check();
  EXPECT_EQ(f.lost, 1u);
  EXPECT_TRUE(Names(f, "different key or payload bytes"));
}

TEST_F(CheckerTest, AMessageNoGroupSettledIsCaught) {
  uint64_t seq = 100;
  while (ClassOf(MessageIdFor(0, seq)) != MessageClass::kNormal) ++seq;
  Publish(MessageIdFor(0, seq));
  EXPECT_TRUE(Names(Check(), "not acked or dead-lettered"));
}

TEST_F(CheckerTest, ARepeatedAttemptMeansTheCountWasReset) {
  DeliverAgain("billing", 1, "billing-1", milliseconds(2000));
  EXPECT_TRUE(Names(Check(), "the attempt count was reset"));
}

TEST_F(CheckerTest, ALowerAttemptAfterAHigherOneMeansAttemptsWentDown) {
  DeliverAgain("audit", 3, "audit-1", milliseconds(2000));
  DeliverAgain("audit", 2, "audit-1", milliseconds(4000));
  EXPECT_TRUE(Names(Check(), "attempts went down"));
}

TEST_F(CheckerTest, RedeliveryAfterAnOkAckNeedsAKillCloseToTheAck) {
  DeliverAgain("billing", 2, "billing-1", milliseconds(2000));
  EXPECT_TRUE(Names(Check(), "with no kill in between"));
}

TEST_F(CheckerTest, RedeliveryAfterAnOkAckAcrossAPromptKillIsAnAllowedDuplicate) {
  history_.BrokerKilled(std::chrono::steady_clock::now() + milliseconds(5));
  DeliverAgain("billing", 2, "billing-1", milliseconds(2000));
  const TortureFigures f = Check();
  EXPECT_TRUE(f.violations.empty()) << f.violations.front();
  EXPECT_EQ(f.groups.at("billing").redelivered_after_ack, 1u);
}

TEST_F(CheckerTest, TwoLeasesOfOneMessageAtOnceAreCaught) {
  // attempt 2 is never settled, and attempt 3 goes to another member 10 ms later, no kill near.
  history_.BrokerKilled(std::chrono::steady_clock::now() + milliseconds(5));
  DeliverAgain("billing", 2, "billing-0", milliseconds(2000));
  DeliverAgain("billing", 3, "billing-1", milliseconds(2010));
  EXPECT_TRUE(Names(Check(), "without a settle, a kill or lease expiry"));
}

TEST_F(CheckerTest, ADeliveryHandledAfterAKillMayBeRedeliveredAtOnce) {
  // attempt 2 was granted by the killed brokerd and reached the handler only after the kill; the
  // restarted brokerd expired that lease at once and handed out attempt 3.
  history_.BrokerKilled(std::chrono::steady_clock::now() + milliseconds(5));
  DeliverAgain("billing", 2, "billing-0", milliseconds(300));
  DeliverAgain("billing", 3, "billing-1", milliseconds(400));
  const TortureFigures f = Check();
  EXPECT_TRUE(f.violations.empty()) << f.violations.front();
}

}  // namespace
}  // namespace broker::torture
