// storage::PartitionReadAhead against storage::ReadPartition: whatever the steps, limits and
// starting points, both return the same records, across batch boundaries and retention gaps.
// The data is written through the public API, then read with the storage layer on the closed
// broker's directory.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/broker.h"
#include "engine_test_util.h"
#include "storage/log_reader.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker {
namespace {

using ::broker::testing::DiskOptions;
using ::broker::testing::FakeClock;
using ::broker::testing::ScopedTempDir;

class ReadAheadTest : public ::testing::Test {
 protected:
  // Publishes batches of the given sizes (each one stored batch), then opens the storage alone.
  void Write(const std::vector<int>& batches, bool delete_front = false) {
    auto opened = Broker::Open(DiskOptions(dir_, clock_));
    ASSERT_OK(opened);
    std::unique_ptr<Broker> broker = std::move(opened).value();
    TopicConfig config{.partitions = 1};
    if (delete_front) config.retention_age = std::chrono::hours(1);
    ASSERT_OK(broker->CreateTopic("t", config));
    int n = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      // With delete_front, the first batch is older than the retention age when it runs.
      if (delete_front && b == 1) clock_->Advance(std::chrono::hours(2));
      std::vector<Message> batch;
      for (int i = 0; i < batches[b]; ++i, ++n) {
        Message m{.payload = "p" + std::to_string(n)};
        if (n % 3 == 0) m.key = "k" + std::to_string(n);
        if (n % 5 == 0) m.headers = {{"h", std::to_string(n)}};
        batch.push_back(std::move(m));
      }
      ASSERT_OK(broker->PublishBatch("t", std::move(batch)));
    }
    if (delete_front) ASSERT_OK(broker->RunRetention());
    broker.reset();
    Options options = DiskOptions(dir_, clock_);
    auto db = storage::StorageDb::Open(options);
    ASSERT_OK(db);
    db_ = std::move(db).value();
    ASSERT_OK(registry_.Load(*db_));
    topic_ = registry_.Find("t");
    ASSERT_NE(topic_, nullptr);
  }

  std::vector<uint64_t> Expected(uint64_t from, size_t max_records, size_t max_bytes) {
    auto r = storage::ReadPartition(*db_, *topic_, PartitionId(0), Offset(from),
                                    ReadLimits{.max_records = max_records, .max_bytes = max_bytes});
    EXPECT_TRUE(r.ok());
    std::vector<uint64_t> out;
    for (const Record& record : r->records) out.push_back(record.offset.value());
    return out;
  }

  ScopedTempDir dir_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<storage::StorageDb> db_;
  storage::TopicRegistry registry_;
  std::shared_ptr<storage::TopicState> topic_;
};

// Reads the whole partition in steps of `step` records and compares every step.
void ReadAllInSteps(storage::PartitionReadAhead& ahead, const storage::StorageDb& db,
                    const storage::TopicState& topic, size_t step) {
  uint64_t next = 0;
  const uint64_t end = topic.partitions[0]->end_offset.load();
  while (next < end) {
    auto got = ahead.Read(db, topic, PartitionId(0), Offset(next), ReadLimits{.max_records = step});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    auto want = storage::ReadPartition(db, topic, PartitionId(0), Offset(next),
                                       ReadLimits{.max_records = step});
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(got->records.size(), want->records.size()) << "from " << next;
    ASSERT_FALSE(got->records.empty());
    for (size_t i = 0; i < got->records.size(); ++i) {
      const Record& a = got->records[i];
      const Record& b = want->records[i];
      EXPECT_EQ(a.offset, b.offset);
      EXPECT_EQ(a.payload, b.payload);
      EXPECT_EQ(a.key, b.key);
      EXPECT_EQ(a.headers, b.headers);
      EXPECT_EQ(a.timestamp, b.timestamp);
    }
    EXPECT_EQ(got->end_offset, want->end_offset);
    EXPECT_EQ(got->first_offset, want->first_offset);
    next = got->records.back().offset.value() + 1;
  }
}

TEST_F(ReadAheadTest, StepsOfAnySizeReadWhatReadPartitionReads) {
  ASSERT_NO_FATAL_FAILURE(Write({1, 7, 100, 3, 250, 1, 64}));
  for (size_t step : {1u, 2u, 7u, 10u, 99u, 100u, 101u, 1000u}) {
    SCOPED_TRACE("step " + std::to_string(step));
    storage::PartitionReadAhead ahead;
    ASSERT_NO_FATAL_FAILURE(ReadAllInSteps(ahead, *db_, *topic_, step));
  }
}

TEST_F(ReadAheadTest, JumpsBackwardAndForwardInsideAndAcrossBatches) {
  ASSERT_NO_FATAL_FAILURE(Write({50, 50, 50}));
  storage::PartitionReadAhead ahead;
  for (uint64_t from : {10u, 20u, 5u, 49u, 50u, 0u, 120u, 60u, 149u, 150u, 30u}) {
    auto got =
        ahead.Read(*db_, *topic_, PartitionId(0), Offset(from), ReadLimits{.max_records = 7});
    ASSERT_TRUE(got.ok());
    std::vector<uint64_t> offsets;
    for (const Record& r : got->records) offsets.push_back(r.offset.value());
    EXPECT_EQ(offsets, Expected(from, 7, 4 << 20)) << "from " << from;
  }
}

TEST_F(ReadAheadTest, ByteLimitStopsAStepAndTheNextStepGoesOn) {
  ASSERT_NO_FATAL_FAILURE(Write({40, 40}));
  storage::PartitionReadAhead ahead;
  uint64_t next = 0;
  while (next < 80) {
    auto got = ahead.Read(*db_, *topic_, PartitionId(0), Offset(next),
                          ReadLimits{.max_records = 1000, .max_bytes = 200});
    ASSERT_TRUE(got.ok());
    std::vector<uint64_t> offsets;
    for (const Record& r : got->records) offsets.push_back(r.offset.value());
    ASSERT_EQ(offsets, Expected(next, 1000, 200)) << "from " << next;
    next = offsets.back() + 1;
  }
}

TEST_F(ReadAheadTest, SkipsWhatRetentionDeleted) {
  ASSERT_NO_FATAL_FAILURE(Write({30, 30}, /*delete_front=*/true));
  const uint64_t first = topic_->partitions[0]->first_offset.load();
  ASSERT_GT(first, 0u);
  storage::PartitionReadAhead ahead;
  auto got = ahead.Read(*db_, *topic_, PartitionId(0), Offset(0), ReadLimits{.max_records = 5});
  ASSERT_TRUE(got.ok());
  ASSERT_FALSE(got->records.empty());
  EXPECT_EQ(got->records.front().offset.value(), first);
  std::vector<uint64_t> offsets;
  for (const Record& r : got->records) offsets.push_back(r.offset.value());
  EXPECT_EQ(offsets, Expected(0, 5, 4 << 20));
}

TEST_F(ReadAheadTest, ReadingAtOrPastTheEndReturnsNothing) {
  ASSERT_NO_FATAL_FAILURE(Write({10}));
  storage::PartitionReadAhead ahead;
  for (uint64_t from : {10u, 11u, 1000u}) {
    auto got = ahead.Read(*db_, *topic_, PartitionId(0), Offset(from), ReadLimits{});
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(got->records.empty());
    EXPECT_EQ(got->end_offset.value(), 10u);
  }
}

}  // namespace
}  // namespace broker
