// ResetGroup: moving a group's position (earliest, latest, offset, time; every partition or one)
// drops unsettled state, keeps dead letters, and is refused while members are subscribed.
#include "delivery_test_util.h"

namespace broker::testing {
namespace {

using std::chrono::seconds;

class ResetTest : public DeliveryTest {
 protected:
  ResetPosition To(ResetPosition::Kind kind, uint64_t offset = 0, TimePoint time = {}) {
    return ResetPosition{.kind = kind, .offset = offset, .time = time};
  }
};

TEST_F(ResetTest, LatestSkipsTheBacklogAndEarliestReplaysEverything) {
  for (int i = 0; i < 5; ++i) Publish(kTopic, "m" + std::to_string(i));
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, kGroup, ExactConfig()));
  GroupInfo latest = Must(broker().ResetGroup(kTopic, kGroup, To(ResetPosition::Kind::kLatest)));
  EXPECT_EQ(latest.total.backlog, 0u);
  {
    auto sub = Subscribe(kTopic, kGroup, "m1");
    EXPECT_TRUE(Poll(*sub).empty());
  }
  GroupInfo earliest = Must(broker().ResetGroup(kTopic, kGroup, To(ResetPosition::Kind::kEarliest)));
  EXPECT_EQ(earliest.total.backlog, 5u);
  auto sub = Subscribe(kTopic, kGroup, "m1");
  EXPECT_EQ(Poll(*sub).size(), 5u);
}

TEST_F(ResetTest, ToAnOffsetDropsUnsettledStateAndClampsToTheRetainedRange) {
  for (int i = 0; i < 10; ++i) Publish(kTopic, "m" + std::to_string(i));
  {
    auto sub = Subscribe(kTopic, kGroup, "m1");
    auto got = Poll(*sub, 4);  // leased, then the member leaves: they go back as delayed
    ASSERT_EQ(got.size(), 4u);
  }
  GroupInfo info = Must(broker().ResetGroup(kTopic, kGroup, To(ResetPosition::Kind::kOffset, 7)));
  EXPECT_EQ(info.total.unsettled, 3u) << "offsets 7, 8, 9";
  EXPECT_EQ(info.total.delayed, 0u) << "the redeliveries below 7 are gone";
  EXPECT_EQ(info.partitions[0].ack_floor.value(), 7u);
  info = Must(broker().ResetGroup(kTopic, kGroup, To(ResetPosition::Kind::kOffset, 1000)));
  EXPECT_EQ(info.partitions[0].ack_floor.value(), 10u) << "clamped to the end";
}

TEST_F(ResetTest, ToATimeStartsAtTheFirstRecordPublishedThen) {
  Publish(kTopic, "old-1");
  Publish(kTopic, "old-2");
  clock_->Advance(seconds(60));
  const TimePoint cut = Now();
  Publish(kTopic, "new-1");
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, kGroup, ExactConfig()));
  GroupInfo info = Must(broker().ResetGroup(kTopic, kGroup, To(ResetPosition::Kind::kTime, 0, cut)));
  EXPECT_EQ(info.partitions[0].ack_floor.value(), 2u);
  auto sub = Subscribe(kTopic, kGroup, "m1");
  auto got = Poll(*sub);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "new-1");
}

TEST_F(ResetTest, RefusedWhileMembersAreSubscribedAndNothingChanges) {
  Publish(kTopic, "m0");
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const GroupInfo before = Describe();
  auto refused = broker().ResetGroup(kTopic, kGroup, To(ResetPosition::Kind::kLatest));
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Describe().total.backlog, before.total.backlog);
  EXPECT_EQ(broker().ResetGroup(kTopic, "nope", To(ResetPosition::Kind::kLatest)).status().code(),
            StatusCode::kNotFound);
}

TEST_F(ResetTest, OnePartitionMovesForwardAndBackAndTheOthersKeepTheirState) {
  CreateTopic("multi", 3);
  for (uint32_t p = 0; p < 3; ++p) {
    for (int i = 0; i < 4; ++i) {
      Must(broker().Publish("multi", Message{.payload = "m"},
                            PublishOptions{.partition = PartitionId(p)}));
    }
  }
  {
    auto sub = Subscribe("multi", kGroup, "m1");
    ASSERT_EQ(Poll(*sub, 12).size(), 12u);  // leased, then back as delayed when the member leaves
  }
  ResetPosition one = To(ResetPosition::Kind::kOffset, 3);
  one.partition = PartitionId(1);
  GroupInfo info = Must(broker().ResetGroup("multi", kGroup, one));
  EXPECT_EQ(info.partitions[1].ack_floor.value(), 3u);
  EXPECT_EQ(info.partitions[1].unsettled, 1u) << "offset 3 only";
  for (uint32_t p : {0u, 2u}) {
    EXPECT_EQ(info.partitions[p].ack_floor.value(), 0u) << "partition " << p << " untouched";
    EXPECT_EQ(info.partitions[p].delayed, 4u) << "partition " << p << " keeps its redeliveries";
  }
  one.offset = 1;  // backward: offsets 1..3 are delivered again
  info = Must(broker().ResetGroup("multi", kGroup, one));
  EXPECT_EQ(info.partitions[1].ack_floor.value(), 1u);
  EXPECT_EQ(info.partitions[1].unsettled, 3u);
  EXPECT_EQ(info.partitions[0].delayed, 4u);

  one.partition = PartitionId(3);
  EXPECT_EQ(broker().ResetGroup("multi", kGroup, one).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Describe("multi", kGroup).partitions[1].ack_floor.value(), 1u) << "nothing changed";
}

TEST_F(ResetTest, DeadLettersStayAndTheResetSurvivesAReopen) {
  TempDir dir;
  Options options = TestOptions();
  options.in_memory = false;
  options.data_dir = dir.path();
  Open(options);
  for (int i = 0; i < 3; ++i) Publish(kTopic, "m" + std::to_string(i));
  {
    auto sub = Subscribe(kTopic, kGroup, "m1");
    const Delivery d = PollOne(*sub);
    DELIVERY_ASSERT_OK(sub->Reject(d.record.partition, d.record.offset, "poison"));
    RunTimers();
  }
  Must(broker().ResetGroup(kTopic, kGroup, To(ResetPosition::Kind::kLatest)));
  broker_.reset();
  Open(options);
  const GroupInfo info = Describe();
  EXPECT_EQ(info.total.unsettled, 0u);
  EXPECT_EQ(info.partitions[0].ack_floor.value(), 3u);
  EXPECT_EQ(info.dlq_depth, 1u);
}

}  // namespace
}  // namespace broker::testing
