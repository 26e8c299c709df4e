// Producer dedupe: a repeated idempotency key within the window returns the first publish's
// position, flagged duplicate, and appends nothing.
#include <gtest/gtest.h>

#include "broker/broker.h"
#include "engine_test_util.h"

namespace broker {
namespace {

using ::broker::testing::DiskOptions;
using ::broker::testing::FakeClock;
using ::broker::testing::ReadAll;
using ::broker::testing::ScopedTempDir;
using ::broker::testing::TestOptions;

constexpr std::chrono::microseconds kWindow = std::chrono::minutes(2);

class DedupeTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(TestOptions(clock_)); }
  void Open(Options options) {
    broker_.reset();
    options.dedupe_window = std::chrono::duration_cast<std::chrono::milliseconds>(kWindow);
    auto opened = Broker::Open(std::move(options));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }
  Offset EndOffset(std::string_view topic) {
    auto info = broker_->DescribeTopic(topic);
    EXPECT_OK(info);
    return info.ok() ? info->partitions[0].end_offset : Offset(UINT64_MAX);
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(DedupeTest, RepeatWithinTheWindowReturnsTheOriginalPosition) {
  ASSERT_OK(broker_->Publish("t", {.payload = "before"}));
  auto first = broker_->Publish("t", {.payload = "original", .idempotency_key = "order-1"});
  ASSERT_OK(first);
  EXPECT_EQ(*first, (PublishResult{PartitionId(0), Offset(1), false}));

  clock_->Advance(std::chrono::minutes(1));
  auto repeat = broker_->Publish("t", {.payload = "retry", .idempotency_key = "order-1"});
  ASSERT_OK(repeat);
  EXPECT_EQ(*repeat, (PublishResult{PartitionId(0), Offset(1), true}));

  EXPECT_EQ(EndOffset("t"), Offset(2));
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[1].payload, "original");
  EXPECT_EQ(broker_->GetWriteStats().duplicates, 1u);
  EXPECT_EQ(broker_->GetWriteStats().messages, 2u);
}

TEST_F(DedupeTest, TheWindowEndsExactlyAtItsLength) {
  ASSERT_OK(broker_->Publish("t", {.payload = "a", .idempotency_key = "k"}));
  clock_->Advance(kWindow - std::chrono::microseconds(1));
  auto inside = broker_->Publish("t", {.payload = "b", .idempotency_key = "k"});
  ASSERT_OK(inside);
  EXPECT_EQ(*inside, (PublishResult{PartitionId(0), Offset(0), true}));

  clock_->Advance(std::chrono::microseconds(1));  // now - first_seen == window
  auto at_boundary = broker_->Publish("t", {.payload = "c", .idempotency_key = "k"});
  ASSERT_OK(at_boundary);
  EXPECT_EQ(*at_boundary, (PublishResult{PartitionId(0), Offset(1), false}));

  // The new publish starts a new window.
  auto again = broker_->Publish("t", {.payload = "d", .idempotency_key = "k"});
  ASSERT_OK(again);
  EXPECT_EQ(*again, (PublishResult{PartitionId(0), Offset(1), true}));
  EXPECT_EQ(EndOffset("t"), Offset(2));
}

TEST_F(DedupeTest, RetentionKeepsKeysInsideTheWindowAndForgetsOlderOnes) {
  ASSERT_OK(broker_->Publish("t", {.payload = "a", .idempotency_key = "k"}));
  clock_->Advance(kWindow - std::chrono::microseconds(1));
  ASSERT_OK(broker_->RunRetention());
  auto inside = broker_->Publish("t", {.payload = "b", .idempotency_key = "k"});
  ASSERT_OK(inside);
  EXPECT_TRUE(inside->duplicate);

  clock_->Advance(std::chrono::microseconds(1));
  ASSERT_OK(broker_->RunRetention());
  auto after = broker_->Publish("t", {.payload = "c", .idempotency_key = "k"});
  ASSERT_OK(after);
  EXPECT_FALSE(after->duplicate);
  EXPECT_EQ(after->offset, Offset(1));
}

TEST_F(DedupeTest, DuplicatesInsideOneBatch) {
  auto results = broker_->PublishBatch("t", {{.payload = "a", .idempotency_key = "k1"},
                                             {.payload = "b", .idempotency_key = "k2"},
                                             {.payload = "c", .idempotency_key = "k1"},
                                             {.payload = "d"},
                                             {.payload = "e", .idempotency_key = "k2"}});
  ASSERT_OK(results);
  EXPECT_EQ(*results, (std::vector<PublishResult>{{PartitionId(0), Offset(0), false},
                                                  {PartitionId(0), Offset(1), false},
                                                  {PartitionId(0), Offset(0), true},
                                                  {PartitionId(0), Offset(2), false},
                                                  {PartitionId(0), Offset(1), true}}));
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].payload, "a");
  EXPECT_EQ((*records)[1].payload, "b");
  EXPECT_EQ((*records)[2].payload, "d");
}

TEST_F(DedupeTest, BatchMixingStoredDuplicatesAndNewMessages) {
  ASSERT_OK(broker_->Publish("t", {.payload = "a", .idempotency_key = "k1"}));
  auto results = broker_->PublishBatch(
      "t", {{.payload = "x", .idempotency_key = "k1"}, {.payload = "b", .idempotency_key = "k2"}});
  ASSERT_OK(results);
  EXPECT_EQ(*results, (std::vector<PublishResult>{{PartitionId(0), Offset(0), true},
                                                  {PartitionId(0), Offset(1), false}}));
  EXPECT_EQ(EndOffset("t"), Offset(2));
}

TEST_F(DedupeTest, ARepeatReturnsTheOriginalPartitionWhateverItsKey) {
  ASSERT_OK(broker_->CreateTopic("multi", {.partitions = 8}));
  const PartitionId p0 = PartitionId(0);
  const std::string key_a = testing::KeyForPartition(p0, 8);
  const std::string key_b = testing::KeyForPartition(PartitionId(5), 8);
  auto first = broker_->Publish("multi", {.key = key_a, .payload = "x", .idempotency_key = "id"});
  ASSERT_OK(first);
  EXPECT_EQ(first->partition, p0);
  auto repeat = broker_->Publish("multi", {.key = key_b, .payload = "x", .idempotency_key = "id"});
  ASSERT_OK(repeat);
  EXPECT_EQ(*repeat, (PublishResult{p0, Offset(0), true}));
  auto info = broker_->DescribeTopic("multi");
  ASSERT_OK(info);
  EXPECT_EQ(info->partitions[5].end_offset, Offset(0));
}

TEST_F(DedupeTest, KeysArePerTopic) {
  auto a = broker_->Publish("a", {.payload = "x", .idempotency_key = "same"});
  auto b = broker_->Publish("b", {.payload = "x", .idempotency_key = "same"});
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_FALSE(a->duplicate);
  EXPECT_FALSE(b->duplicate);
}

TEST_F(DedupeTest, FirstPublishToAnAutoCreatedTopicRemembersItsKey) {
  // The same key twice in one group while the topic is being auto-created.
  auto results = broker_->PublishBatch(
      "new", {{.payload = "a", .idempotency_key = "k"}, {.payload = "b", .idempotency_key = "k"}});
  ASSERT_OK(results);
  EXPECT_TRUE((*results)[1].duplicate);
  auto later = broker_->Publish("new", {.payload = "c", .idempotency_key = "k"});
  ASSERT_OK(later);
  EXPECT_EQ(*later, (PublishResult{PartitionId(0), Offset(0), true}));
}

TEST_F(DedupeTest, TheWindowSurvivesAReopen) {
  ScopedTempDir dir;
  Open(DiskOptions(dir, clock_));
  ASSERT_OK(broker_->Publish("t", {.payload = "first", .idempotency_key = "k"}));
  ASSERT_OK(broker_->Publish("t", {.payload = "second"}));
  Open(DiskOptions(dir, clock_));  // closes the first broker, then reopens

  clock_->Advance(std::chrono::minutes(1));
  auto repeat = broker_->Publish("t", {.payload = "retry", .idempotency_key = "k"});
  ASSERT_OK(repeat);
  EXPECT_EQ(*repeat, (PublishResult{PartitionId(0), Offset(0), true}));
  EXPECT_EQ(EndOffset("t"), Offset(2));
  broker_.reset();  // before the directory goes
}

}  // namespace
}  // namespace broker
