// Retention by age and by size: whole batches from the front, offsets never reused.
#include <gtest/gtest.h>

#include "broker/broker.h"
#include "engine_test_util.h"
#include "storage/record_codec.h"

namespace broker {
namespace {

using ::broker::testing::DiskOptions;
using ::broker::testing::FakeClock;
using ::broker::testing::ReadAll;
using ::broker::testing::ScopedTempDir;
using ::broker::testing::TestOptions;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(TestOptions(clock_)); }
  void Open(Options options) {
    broker_.reset();
    auto opened = Broker::Open(std::move(options));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }
  PartitionInfo Partition(std::string_view topic, uint32_t p = 0) {
    auto info = broker_->DescribeTopic(topic);
    EXPECT_OK(info);
    return info.ok() ? info->partitions[p] : PartitionInfo{};
  }
  uint64_t RunRetention() { return testing::RetentionPass(*broker_); }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(RetentionTest, AgeBoundaryIsInclusive) {
  ASSERT_OK(broker_->CreateTopic("t", {.retention_age = std::chrono::hours(1)}));
  ASSERT_OK(broker_->Publish("t", {.payload = "a"}));  // at T
  clock_->Advance(std::chrono::minutes(1));
  ASSERT_OK(broker_->Publish("t", {.payload = "b"}));  // at T + 1 min

  clock_->Advance(std::chrono::minutes(59));  // age of "a" == retention_age: kept
  EXPECT_EQ(RunRetention(), 0u);
  EXPECT_EQ(Partition("t").first_offset, Offset(0));

  clock_->Advance(std::chrono::microseconds(1));  // one microsecond older: deleted
  EXPECT_EQ(RunRetention(), 1u);
  const PartitionInfo after = Partition("t");
  EXPECT_EQ(after.first_offset, Offset(1));
  EXPECT_EQ(after.end_offset, Offset(2));
  EXPECT_EQ(after.records, 1u);

  clock_->Advance(std::chrono::minutes(1));  // "b" is now older than retention too
  EXPECT_EQ(RunRetention(), 1u);
  EXPECT_EQ(Partition("t").first_offset, Offset(2));
  EXPECT_EQ(Partition("t").bytes, 0u);
}

TEST_F(RetentionTest, ReadingBelowTheFirstOffsetStartsAtTheFirstOffset) {
  ASSERT_OK(broker_->CreateTopic("t", {.retention_age = std::chrono::seconds(10)}));
  for (int i = 0; i < 3; ++i) ASSERT_OK(broker_->Publish("t", {.payload = "old"}));
  clock_->Advance(std::chrono::seconds(11));
  ASSERT_OK(broker_->Publish("t", {.payload = "new"}));
  EXPECT_EQ(RunRetention(), 3u);

  auto page = broker_->Read("t", PartitionId(0), Offset(0));
  ASSERT_OK(page);
  EXPECT_EQ(page->first_offset, Offset(3));
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].offset, Offset(3));
  EXPECT_EQ(page->records[0].payload, "new");
}

TEST_F(RetentionTest, SizeRetentionKeepsTheNewestWithinTheLimit) {
  storage::BatchEncoder encoder;
  const Message message{.payload = std::string(100, 'x')};
  const uint64_t size = encoder.Add(message, TimePoint{});
  ASSERT_OK(broker_->CreateTopic("t", {.retention_bytes = size * 3 + size / 2}));
  for (int i = 0; i < 10; ++i) ASSERT_OK(broker_->Publish("t", message));  // 10 batches
  EXPECT_EQ(Partition("t").bytes, size * 10);

  EXPECT_EQ(RunRetention(), 7u);
  const PartitionInfo after = Partition("t");
  EXPECT_EQ(after.first_offset, Offset(7));
  EXPECT_EQ(after.end_offset, Offset(10));
  EXPECT_EQ(after.bytes, size * 3);
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ(records->front().offset, Offset(7));
  EXPECT_EQ(RunRetention(), 0u);  // within the limit now
}

TEST_F(RetentionTest, SizeRetentionAtExactlyTheLimitDeletesNothing) {
  storage::BatchEncoder encoder;
  const Message message{.payload = "0123456789"};
  const uint64_t size = encoder.Add(message, TimePoint{});
  ASSERT_OK(broker_->CreateTopic("t", {.retention_bytes = size * 4}));
  for (int i = 0; i < 4; ++i) ASSERT_OK(broker_->Publish("t", message));
  EXPECT_EQ(RunRetention(), 0u);
  ASSERT_OK(broker_->Publish("t", message));
  EXPECT_EQ(RunRetention(), 1u);
  EXPECT_EQ(Partition("t").bytes, size * 4);
}

TEST_F(RetentionTest, SizeRetentionDeletesWholeBatches) {
  ASSERT_OK(broker_->CreateTopic("t", {.retention_bytes = 1}));
  std::vector<Message> batch(5, Message{.payload = "batched"});
  ASSERT_OK(broker_->PublishBatch("t", batch));  // one stored batch of 5
  EXPECT_EQ(RunRetention(), 5u);
  EXPECT_EQ(Partition("t").first_offset, Offset(5));
}

TEST_F(RetentionTest, EachPartitionIsTrimmedOnItsOwn) {
  ASSERT_OK(broker_->CreateTopic("t", {.partitions = 2, .retention_age = std::chrono::seconds(1)}));
  const std::string k0 = testing::KeyForPartition(PartitionId(0), 2);
  const std::string k1 = testing::KeyForPartition(PartitionId(1), 2);
  ASSERT_OK(broker_->Publish("t", {.key = k0, .payload = "old"}));
  clock_->Advance(std::chrono::seconds(2));
  ASSERT_OK(broker_->Publish("t", {.key = k1, .payload = "new"}));
  EXPECT_EQ(RunRetention(), 1u);
  EXPECT_EQ(Partition("t", 0).first_offset, Offset(1));
  EXPECT_EQ(Partition("t", 1).first_offset, Offset(0));
}

TEST_F(RetentionTest, TopicsWithoutLimitsKeepEverything) {
  ASSERT_OK(broker_->Publish("t", {.payload = "forever"}));
  clock_->Advance(std::chrono::hours(24 * 365 * 10));
  EXPECT_EQ(RunRetention(), 0u);
  EXPECT_EQ(Partition("t").records, 1u);
}

TEST_F(RetentionTest, OffsetsAreNeverReusedAfterEverythingWasDeleted) {
  ScopedTempDir dir;
  Open(DiskOptions(dir, clock_));
  ASSERT_OK(broker_->CreateTopic("t", {.retention_age = std::chrono::seconds(1)}));
  for (int i = 0; i < 5; ++i) ASSERT_OK(broker_->Publish("t", {.payload = "x"}));
  clock_->Advance(std::chrono::seconds(2));
  EXPECT_EQ(RunRetention(), 5u);
  PartitionInfo empty = Partition("t");
  EXPECT_EQ(empty.first_offset, Offset(5));
  EXPECT_EQ(empty.end_offset, Offset(5));
  EXPECT_EQ(empty.records, 0u);

  auto next = broker_->Publish("t", {.payload = "after"});
  ASSERT_OK(next);
  EXPECT_EQ(next->offset, Offset(5));

  // And across a reopen with the partition emptied again.
  clock_->Advance(std::chrono::seconds(2));
  EXPECT_EQ(RunRetention(), 1u);
  Open(DiskOptions(dir, clock_));
  EXPECT_EQ(Partition("t").first_offset, Offset(6));
  auto reopened = broker_->Publish("t", {.payload = "reopened"});
  ASSERT_OK(reopened);
  EXPECT_EQ(reopened->offset, Offset(6));
  broker_.reset();
}

}  // namespace
}  // namespace broker
