// Reading through the public API: limits, positions inside batches, waiting for new records.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "broker/broker.h"
#include "engine_test_util.h"
#include "storage/record_codec.h"

namespace broker {
namespace {

using ::broker::testing::FakeClock;
using ::broker::testing::TestOptions;

class ReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Broker::Open(TestOptions(clock_));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }

  // Publishes `n` messages "p<i>" one per call, so each is its own stored batch.
  void PublishSingles(std::string_view topic, int n, size_t payload_size = 0) {
    for (int i = 0; i < n; ++i) {
      std::string payload = "p" + std::to_string(i);
      payload.resize(std::max(payload.size(), payload_size), '.');
      ASSERT_OK(broker_->Publish(topic, {.payload = payload}));
    }
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

std::vector<uint64_t> Offsets(const ReadResult& r) {
  std::vector<uint64_t> out;
  for (const Record& record : r.records) out.push_back(record.offset.value());
  return out;
}

TEST_F(ReadTest, MaxRecordsBoundsAPage) {
  PublishSingles("t", 10);
  auto page = broker_->Read("t", PartitionId(0), Offset(0), {.max_records = 3});
  ASSERT_OK(page);
  EXPECT_EQ(Offsets(*page), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(page->first_offset, Offset(0));
  EXPECT_EQ(page->end_offset, Offset(10));
  page = broker_->Read("t", PartitionId(0), Offset(3), {.max_records = 3});
  ASSERT_OK(page);
  EXPECT_EQ(Offsets(*page), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(page->records[0].payload, "p3");
}

TEST_F(ReadTest, MaxBytesBoundsAPage) {
  PublishSingles("t", 10, 100);
  storage::BatchEncoder encoder;
  const size_t record_size = encoder.Add({.payload = std::string(100, '.')}, TimePoint{});
  // Room for two and a half records: two are returned.
  auto page = broker_->Read("t", PartitionId(0), Offset(0),
                            {.max_records = 100, .max_bytes = record_size * 5 / 2});
  ASSERT_OK(page);
  EXPECT_EQ(Offsets(*page), (std::vector<uint64_t>{0, 1}));
  // Exactly room for three.
  page = broker_->Read("t", PartitionId(0), Offset(4),
                       {.max_records = 100, .max_bytes = record_size * 3});
  ASSERT_OK(page);
  EXPECT_EQ(Offsets(*page), (std::vector<uint64_t>{4, 5, 6}));
}

TEST_F(ReadTest, AtLeastOneRecordEvenIfLargerThanMaxBytes) {
  ASSERT_OK(broker_->Publish("t", {.payload = std::string(10000, 'x')}));
  ASSERT_OK(broker_->Publish("t", {.payload = "small"}));
  auto page = broker_->Read("t", PartitionId(0), Offset(0), {.max_records = 10, .max_bytes = 1});
  ASSERT_OK(page);
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].payload.size(), 10000u);
}

TEST_F(ReadTest, ReadingFromInsideABatchStartsAtTheRequestedOffset) {
  std::vector<Message> batch;
  for (int i = 0; i < 10; ++i) batch.push_back({.payload = "b" + std::to_string(i)});
  ASSERT_OK(broker_->PublishBatch("t", batch));  // one stored batch
  PublishSingles("t", 2);                        // offsets 10, 11
  auto page = broker_->Read("t", PartitionId(0), Offset(7), {.max_records = 4});
  ASSERT_OK(page);
  EXPECT_EQ(Offsets(*page), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_EQ(page->records[0].payload, "b7");
  EXPECT_EQ(page->records[3].payload, "p0");
}

TEST_F(ReadTest, ReadingAtOrPastTheEndReturnsNothing) {
  PublishSingles("t", 3);
  for (uint64_t from : {3u, 4u, 1000u}) {
    auto page = broker_->Read("t", PartitionId(0), Offset(from));
    ASSERT_OK(page);
    EXPECT_TRUE(page->records.empty());
    EXPECT_EQ(page->end_offset, Offset(3));
  }
}

TEST_F(ReadTest, PartitionOutOfRangeIsInvalidArgument) {
  ASSERT_OK(broker_->CreateTopic("t", {.partitions = 2}));
  EXPECT_OK(broker_->Read("t", PartitionId(1), Offset(0)));
  EXPECT_EQ(broker_->Read("t", PartitionId(2), Offset(0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      broker_->WaitForRecords("t", PartitionId(2), Offset(0), std::chrono::milliseconds(0))
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

TEST_F(ReadTest, WaitForRecordsWakesWhenAnotherThreadPublishes) {
  ASSERT_OK(broker_->CreateTopic("t", {}));
  std::promise<void> waiting;
  const auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async, [&] {
    waiting.set_value();
    return broker_->WaitForRecords("t", PartitionId(0), Offset(0), std::chrono::seconds(60));
  });
  waiting.get_future().wait();
  ASSERT_OK(broker_->Publish("t", {.payload = "wake up"}));
  ASSERT_EQ(waiter.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "WaitForRecords did not wake up on a publish";
  auto end = waiter.get();
  ASSERT_OK(end);
  EXPECT_EQ(*end, Offset(1));
  // Far less than the 60 s timeout: it woke on the publish, not on its deadline.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(ReadTest, WaitForRecordsTimesOutReturningTheSameOffset) {
  PublishSingles("t", 3);
  auto end = broker_->WaitForRecords("t", PartitionId(0), Offset(3), std::chrono::milliseconds(20));
  ASSERT_OK(end);
  EXPECT_EQ(*end, Offset(3));
}

TEST_F(ReadTest, WaitForRecordsReturnsAtOnceIfRecordsExist) {
  PublishSingles("t", 3);
  // A long timeout that the test would notice if it were waited out.
  auto end = broker_->WaitForRecords("t", PartitionId(0), Offset(1), std::chrono::hours(1));
  ASSERT_OK(end);
  EXPECT_EQ(*end, Offset(3));
}

TEST_F(ReadTest, WaitForRecordsWakesWithNotFoundWhenTheTopicIsDeleted) {
  ASSERT_OK(broker_->CreateTopic("t", {}));
  std::promise<void> waiting;
  const auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async, [&] {
    waiting.set_value();
    return broker_->WaitForRecords("t", PartitionId(0), Offset(0), std::chrono::seconds(20));
  });
  waiting.get_future().wait();
  ASSERT_OK(broker_->DeleteTopic("t"));
  auto end = waiter.get();
  // If the waiter had not yet started waiting, it finds the topic gone: kNotFound either way.
  EXPECT_EQ(end.status().code(), StatusCode::kNotFound);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10))
      << "the waiter slept until its timeout instead of waking on the deletion";
}

TEST_F(ReadTest, WaitForRecordsOnAMissingTopicIsNotFound) {
  EXPECT_EQ(broker_->WaitForRecords("missing", PartitionId(0), Offset(0),
                                    std::chrono::milliseconds(0))
                .status()
                .code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace broker
