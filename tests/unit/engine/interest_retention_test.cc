// Interest retention: a record is deleted once every group of its topic has settled it, in whole
// batches, by the retention pass; the hard byte cap refuses publishes and recovers; a crash
// between settling and deleting deletes nothing unsettled.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "engine_test_util.h"
#include "write_fault_fixture.h"

namespace broker {
namespace {

using ::broker::testing::FakeClock;
using ::broker::testing::ReadAll;
using ::broker::testing::TestOptions;
using ::broker::testing::WriteFaultTest;
using Target = ::broker::testing::FaultFileSystem::Target;
using Error = ::broker::testing::FaultFileSystem::Error;
using std::chrono::milliseconds;

constexpr TopicConfig kInterest{.retention = RetentionPolicy::kInterest};

SubscribeOptions Member(const std::string& name) {
  SubscribeOptions options;
  options.member = name;
  options.group.backoff.jitter = 0;
  return options;
}

// Leases up to `n` records of `group` to a new member and returns it with its deliveries.
struct Leased {
  std::unique_ptr<Subscription> sub;
  std::vector<Delivery> deliveries;
};
Leased Lease(Broker& broker, const std::string& topic, const std::string& group, size_t n) {
  Leased out;
  auto sub = broker.Subscribe(topic, group, Member(group + "-member"));
  EXPECT_OK(sub);
  if (!sub.ok()) return out;
  out.sub = std::move(sub).value();
  auto polled = out.sub->Poll(n, milliseconds(0));
  EXPECT_OK(polled);
  if (polled.ok()) out.deliveries = std::move(polled).value();
  return out;
}

uint64_t FirstOffset(Broker& broker, std::string_view topic) {
  auto info = broker.DescribeTopic(topic);
  EXPECT_OK(info);
  return info.ok() ? info->partitions[0].first_offset.value() : UINT64_MAX;
}

class InterestRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Broker::Open(TestOptions(clock_));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }
  // n publishes of one record each: one batch per record.
  void PublishEach(std::string_view topic, int n) {
    for (int i = 0; i < n; ++i) ASSERT_OK(broker_->Publish(topic, {.payload = "m" + std::to_string(i)}));
  }
  uint64_t RunRetention() { return testing::RetentionPass(*broker_); }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(InterestRetentionTest, ATopicWithoutGroupsKeepsEverything) {
  ASSERT_OK(broker_->CreateTopic("t", kInterest));
  ASSERT_NO_FATAL_FAILURE(PublishEach("t", 5));
  clock_->Advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(RunRetention(), 0u);
  EXPECT_EQ(FirstOffset(*broker_, "t"), 0u);
}

TEST_F(InterestRetentionTest, DeletesOnlyWhatEveryGroupSettled) {
  ASSERT_OK(broker_->CreateTopic("t", kInterest));
  ASSERT_OK(broker_->CreateGroup("t", "a", {}));
  ASSERT_OK(broker_->CreateGroup("t", "b", {}));
  ASSERT_NO_FATAL_FAILURE(PublishEach("t", 6));

  Leased a = Lease(*broker_, "t", "a", 6);
  ASSERT_EQ(a.deliveries.size(), 6u);
  for (const Delivery& d : a.deliveries) ASSERT_OK(a.sub->Ack(PartitionId(0), d.record.offset));
  EXPECT_EQ(RunRetention(), 0u) << "group b has settled nothing";
  EXPECT_EQ(FirstOffset(*broker_, "t"), 0u);

  Leased b = Lease(*broker_, "t", "b", 6);
  ASSERT_EQ(b.deliveries.size(), 6u);
  ASSERT_OK(b.sub->Ack(PartitionId(0), Offset(0)));
  ASSERT_OK(b.sub->Ack(PartitionId(0), Offset(1)));
  ASSERT_OK(b.sub->Ack(PartitionId(0), Offset(3)));  // above b's floor: not deletable yet
  // A dead letter is settled too.
  ASSERT_OK(b.sub->Reject(PartitionId(0), Offset(2), "poison"));
  ASSERT_OK(broker_->RunDeliveryTimers());  // waits for the dead-letter write
  EXPECT_EQ(RunRetention(), 4u);
  EXPECT_EQ(FirstOffset(*broker_, "t"), 4u);

  // The rest stays until b settles it; the described floor and size follow.
  EXPECT_EQ(RunRetention(), 0u);
  for (uint64_t o : {4u, 5u}) ASSERT_OK(b.sub->Ack(PartitionId(0), Offset(o)));
  EXPECT_EQ(RunRetention(), 2u);
  auto info = broker_->DescribeTopic("t");
  ASSERT_OK(info);
  EXPECT_EQ(info->partitions[0].first_offset, Offset(6));
  EXPECT_EQ(info->partitions[0].bytes, 0u);
  auto group = broker_->DescribeGroup("t", "b");
  ASSERT_OK(group);
  EXPECT_EQ(group->total.expired, 0u);
}

TEST_F(InterestRetentionTest, DeletesWholeBatchesOnly) {
  ASSERT_OK(broker_->CreateTopic("t", kInterest));
  ASSERT_OK(broker_->CreateGroup("t", "g", {}));
  std::vector<Message> batch(4);
  for (auto& m : batch) m.payload = "x";
  ASSERT_OK(broker_->PublishBatch("t", batch));  // offsets 0..3, one batch
  Leased g = Lease(*broker_, "t", "g", 4);
  ASSERT_EQ(g.deliveries.size(), 4u);
  for (uint64_t o : {0u, 1u, 2u}) ASSERT_OK(g.sub->Ack(PartitionId(0), Offset(o)));
  EXPECT_EQ(RunRetention(), 0u) << "offset 3 keeps its batch";
  ASSERT_OK(g.sub->Ack(PartitionId(0), Offset(3)));
  EXPECT_EQ(RunRetention(), 4u);
}

// Decided (docs/operations.md): deleting the last group leaves the topic as before its first
// group (everything kept); a new group starts at the first retained record; ResetGroup below it
// is clamped to it.
TEST_F(InterestRetentionTest, LastGroupDeletedNewGroupAndResetBelowTheFloor) {
  ASSERT_OK(broker_->CreateTopic("t", kInterest));
  ASSERT_OK(broker_->CreateGroup("t", "g", {}));
  ASSERT_NO_FATAL_FAILURE(PublishEach("t", 4));
  {
    Leased g = Lease(*broker_, "t", "g", 2);
    for (const Delivery& d : g.deliveries) ASSERT_OK(g.sub->Ack(PartitionId(0), d.record.offset));
  }
  EXPECT_EQ(RunRetention(), 2u);
  ASSERT_OK(broker_->DeleteGroup("t", "g"));
  EXPECT_EQ(RunRetention(), 0u);
  EXPECT_EQ(FirstOffset(*broker_, "t"), 2u);

  ASSERT_OK(broker_->CreateGroup("t", "late", {}));
  auto late = broker_->DescribeGroup("t", "late");
  ASSERT_OK(late);
  EXPECT_EQ(late->total.unsettled, 2u);
  EXPECT_EQ(late->partitions[0].ack_floor, Offset(2));

  auto reset = broker_->ResetGroup("t", "late", {.kind = ResetPosition::Kind::kOffset, .offset = 0});
  ASSERT_OK(reset);
  EXPECT_EQ(reset->partitions[0].ack_floor, Offset(2));
  EXPECT_EQ(reset->total.expired, 0u);
}

TEST_F(InterestRetentionTest, TheCapRefusesThenRecoversOnceGroupsCatchUp) {
  TopicConfig config = kInterest;
  config.max_bytes = 1000;
  ASSERT_OK(broker_->CreateTopic("capped", config));
  ASSERT_OK(broker_->CreateGroup("capped", "g", {}));
  const std::string payload(100, 'p');
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 20; ++i) {
    auto r = broker_->Publish("capped", {.payload = payload});
    if (!r.ok()) {
      refused = r.status();
      break;
    }
    ++accepted;
  }
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  EXPECT_NE(refused.message().find("capped"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("1000"), std::string::npos) << refused.message();
  EXPECT_GT(accepted, 5);
  auto info = broker_->DescribeTopic("capped");
  ASSERT_OK(info);
  EXPECT_LE(info->partitions[0].bytes, 1000u);
  EXPECT_EQ(info->partitions[0].end_offset, Offset(accepted)) << "the refusal wrote nothing";

  // Retention deletes nothing unsettled to make room.
  EXPECT_EQ(RunRetention(), 0u);
  EXPECT_EQ(broker_->Publish("capped", {.payload = payload}).status().code(),
            StatusCode::kResourceExhausted);

  Leased g = Lease(*broker_, "capped", "g", 3);
  ASSERT_EQ(g.deliveries.size(), 3u);
  for (const Delivery& d : g.deliveries) ASSERT_OK(g.sub->Ack(PartitionId(0), d.record.offset));
  EXPECT_EQ(RunRetention(), 3u);
  EXPECT_OK(broker_->Publish("capped", {.payload = payload}));
}

TEST_F(InterestRetentionTest, BadConfigurationIsRefused) {
  TopicConfig capped_limits{.max_bytes = 100};
  EXPECT_EQ(broker_->CreateTopic("a", capped_limits).code(), StatusCode::kInvalidArgument);
  TopicConfig interest_with_size = kInterest;
  interest_with_size.retention_bytes = 100;
  EXPECT_EQ(broker_->CreateTopic("b", interest_with_size).code(), StatusCode::kInvalidArgument);
  auto topics = broker_->ListTopics();
  ASSERT_OK(topics);
  EXPECT_TRUE(topics->empty());
}

// On disk, with faults: the pass commits the groups' acks before it deletes, and deletes nothing
// if it cannot.
class InterestCrashTest : public WriteFaultTest {
 protected:
  void SetUp() override {
    WriteFaultTest::SetUp();
    ASSERT_OK(broker_->CreateTopic("t", kInterest));
    ASSERT_OK(broker_->CreateGroup("t", "g", {}));
    for (int i = 0; i < 4; ++i) ASSERT_OK(broker_->Publish("t", {.payload = std::to_string(i)}));
  }
  // Acks offsets 0..2 (batched: not written yet) through a member that then goes away.
  void AckThree() {
    Leased g = Lease(*broker_, "t", "g", 4);
    ASSERT_EQ(g.deliveries.size(), 4u);
    for (uint64_t o : {0u, 1u, 2u}) ASSERT_OK(g.sub->Ack(PartitionId(0), Offset(o)));
    sub_ = std::move(g.sub);
  }
  // Closes the broker while every write fails (nothing more reaches disk: a crash), reopens.
  void CrashAndReopen() {
    fs_->SetFault(Target::kAllWrites, Error::kIoError);
    sub_.reset();
    broker_.reset();
    fs_->ClearFault();
    ASSERT_NO_FATAL_FAILURE(Open());
  }
  // The leases the crash ended expire (at the reopen) and are redelivered after their backoff.
  void PastTheBackoff() {
    ASSERT_OK(broker_->RunDeliveryTimers());
    clock_->Advance(std::chrono::minutes(10));
    ASSERT_OK(broker_->RunDeliveryTimers());
  }
  std::unique_ptr<Subscription> sub_;
};

TEST_F(InterestCrashTest, APassThatCannotCommitTheAcksDeletesNothing) {
  ASSERT_NO_FATAL_FAILURE(AckThree());
  fs_->SetFault(Target::kAllWrites, Error::kIoError);
  auto pass = broker_->RunRetention();
  EXPECT_FALSE(pass.ok());
  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());

  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  EXPECT_EQ(records->size(), 4u) << "the acks were lost with the crash: nothing may be gone";
  auto group = broker_->DescribeGroup("t", "g");
  ASSERT_OK(group);
  EXPECT_EQ(group->partitions[0].ack_floor, Offset(0));
  EXPECT_EQ(group->total.expired, 0u);
  // And they are delivered again.
  ASSERT_NO_FATAL_FAILURE(PastTheBackoff());
  Leased again = Lease(*broker_, "t", "g", 10);
  EXPECT_EQ(again.deliveries.size(), 4u);
}

TEST_F(InterestCrashTest, ACrashAfterThePassLeavesSettledStateAndNoGap) {
  ASSERT_NO_FATAL_FAILURE(AckThree());
  auto pass = broker_->RunRetention();
  ASSERT_OK(pass);
  EXPECT_EQ(*pass, 3u);
  ASSERT_NO_FATAL_FAILURE(CrashAndReopen());

  EXPECT_EQ(FirstOffset(*broker_, "t"), 3u);
  auto group = broker_->DescribeGroup("t", "g");
  ASSERT_OK(group);
  // The acks the pass relied on were committed by it: the group's floor survived the crash.
  EXPECT_EQ(group->partitions[0].ack_floor, Offset(3));
  EXPECT_EQ(group->total.expired, 0u);
  EXPECT_EQ(group->total.unsettled, 1u);
  ASSERT_NO_FATAL_FAILURE(PastTheBackoff());
  Leased again = Lease(*broker_, "t", "g", 10);
  ASSERT_EQ(again.deliveries.size(), 1u);
  EXPECT_EQ(again.deliveries[0].record.offset, Offset(3));
}

TEST_F(InterestCrashTest, TheConfigurationSurvivesAReopen) {
  ASSERT_NO_FATAL_FAILURE(Open());
  auto info = broker_->DescribeTopic("t");
  ASSERT_OK(info);
  EXPECT_EQ(info->config.retention, RetentionPolicy::kInterest);
}

// Disk space comes back, not only the stored-bytes figure: once a partition has lost 4 MiB (here
// over two passes of 3 MiB, as when a consumer drains while passes run), the pass flushes every
// column family, so the write-ahead log files that held the deleted records go, and compacts the
// deleted range.
TEST_F(InterestCrashTest, ADrainedTopicLeavesNoLogBehindOnDisk) {
  ASSERT_OK(broker_->CreateTopic("big", kInterest));
  auto sub = broker_->Subscribe("big", "g", Member("drainer"));
  ASSERT_OK(sub);
  const std::string payload(1000, 'x');
  for (int pass = 0; pass < 2; ++pass) {
    for (int b = 0; b < 3; ++b) {  // 3 MiB: one pass alone would not compact
      std::vector<Message> batch(1000, Message{.payload = payload});
      ASSERT_OK(broker_->PublishBatch("big", std::move(batch)));
    }
    for (int drained = 0; drained < 3000;) {
      auto polled = (*sub)->Poll(1000, milliseconds(0));
      ASSERT_OK(polled);
      ASSERT_FALSE(polled->empty()) << "after " << drained;
      for (const Delivery& d : *polled) {
        ASSERT_OK((*sub)->Ack(d.record.partition, d.record.offset));
      }
      drained += static_cast<int>(polled->size());
    }
    auto deleted = broker_->RunRetention();
    ASSERT_OK(deleted);
    EXPECT_GE(*deleted, 3000u);
  }

  uint64_t total = 0;
  std::string listing;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(options_.data_dir)) {
    if (!entry.is_regular_file()) continue;
    total += entry.file_size();
    listing += entry.path().filename().string() + " " + std::to_string(entry.file_size()) + "\n";
  }
  EXPECT_LT(total, uint64_t{2} << 20) << "6 MiB were published and deleted; left on disk:\n"
                                      << listing;
}

}  // namespace
}  // namespace broker
