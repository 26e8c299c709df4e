// Reopening a data directory: offsets, data and topics survive; one process at a time.
#include <gtest/gtest.h>

#include "broker/broker.h"
#include "engine_test_util.h"

namespace broker {
namespace {

using ::broker::testing::DiskOptions;
using ::broker::testing::FakeClock;
using ::broker::testing::KeyForPartition;
using ::broker::testing::ReadAll;
using ::broker::testing::ScopedTempDir;

class ReopenTest : public ::testing::Test {
 protected:
  void Open() {
    broker_.reset();
    auto opened = Broker::Open(DiskOptions(dir_, clock_));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }
  void TearDown() override { broker_.reset(); }

  ScopedTempDir dir_;  // destroyed last
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(ReopenTest, OffsetsOfEveryPartitionContinue) {
  constexpr uint32_t kPartitions = 4;
  const TopicConfig config{.partitions = kPartitions, .retention_bytes = 1 << 30};
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_OK(broker_->CreateTopic("t", config));
  const TimePoint created = clock_->Now();
  std::vector<std::string> keys;
  for (uint32_t p = 0; p < kPartitions; ++p) keys.push_back(KeyForPartition(PartitionId(p), 4));
  // Partition p gets p * 3 + 1 records, some singly, some in a batch.
  for (uint32_t p = 0; p < kPartitions; ++p) {
    ASSERT_OK(broker_->Publish("t", {.key = keys[p], .payload = "single"}));
    if (p > 0) {
      std::vector<Message> batch(p * 3, Message{.key = keys[p], .payload = "batched"});
      ASSERT_OK(broker_->PublishBatch("t", batch));
    }
  }

  clock_->Advance(std::chrono::hours(1));
  ASSERT_NO_FATAL_FAILURE(Open());
  auto info = broker_->DescribeTopic("t");
  ASSERT_OK(info);
  EXPECT_EQ(info->config, config);
  EXPECT_EQ(info->created_at, created);
  for (uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(info->partitions[p].end_offset, Offset(p * 3 + 1)) << "partition " << p;
    auto next = broker_->Publish("t", {.key = keys[p], .payload = "after reopen"});
    ASSERT_OK(next);
    EXPECT_EQ(*next, (PublishResult{PartitionId(p), Offset(p * 3 + 1), false}));
    auto records = ReadAll(*broker_, "t", PartitionId(p));
    ASSERT_OK(records);
    ASSERT_EQ(records->size(), p * 3 + 2);
    EXPECT_EQ(records->front().payload, "single");
    EXPECT_EQ(records->back().payload, "after reopen");
    for (size_t i = 0; i < records->size(); ++i) EXPECT_EQ((*records)[i].offset, Offset(i));
  }
}

TEST_F(ReopenTest, ASecondOpenOfTheSameDirectoryFails) {
  ASSERT_NO_FATAL_FAILURE(Open());
  auto second = Broker::Open(DiskOptions(dir_, clock_));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status().ToString();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(dir_.path()), std::string::npos)
      << second.status().message();

  // The first broker is unaffected, and once it is closed the directory opens again.
  EXPECT_OK(broker_->Publish("t", {.payload = "still works"}));
  broker_.reset();
  auto third = Broker::Open(DiskOptions(dir_, clock_));
  EXPECT_OK(third);
}

TEST_F(ReopenTest, DeletedTopicStaysDeletedAndItsNameStartsOver) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_OK(broker_->CreateTopic("keep", {}));
  ASSERT_OK(broker_->Publish("keep", {.payload = "kept"}));
  for (int i = 0; i < 3; ++i) ASSERT_OK(broker_->Publish("gone", {.payload = "old"}));
  ASSERT_OK(broker_->DeleteTopic("gone"));

  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(broker_->DescribeTopic("gone").status().code(), StatusCode::kNotFound);
  auto topics = broker_->ListTopics();
  ASSERT_OK(topics);
  ASSERT_EQ(topics->size(), 1u);
  EXPECT_EQ((*topics)[0].name, "keep");

  auto reborn = broker_->Publish("gone", {.payload = "new"});
  ASSERT_OK(reborn);
  EXPECT_EQ(reborn->offset, Offset(0));
  ASSERT_NO_FATAL_FAILURE(Open());
  auto records = ReadAll(*broker_, "gone", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].payload, "new");
  auto kept = ReadAll(*broker_, "keep", PartitionId(0));
  ASSERT_OK(kept);
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].payload, "kept");
}

}  // namespace
}  // namespace broker
