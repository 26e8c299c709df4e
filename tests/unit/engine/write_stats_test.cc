// WriteStats: one sync_latency sample per synced group commit, none for async ones; publish_calls
// counts what publishers sent, not the engine's own writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "engine_test_util.h"

namespace broker::testing {
namespace {

uint64_t SampleCount(const SyncLatencyHistogram& histogram) {
  return std::accumulate(histogram.counts.begin(), histogram.counts.end(), uint64_t{0});
}

TEST(WriteStatsTest, EverySyncedCommitIsOneLatencySample) {
  ScopedTempDir dir;
  auto opened = Broker::Open(DiskOptions(dir, std::make_shared<FakeClock>()));
  ASSERT_OK(opened);
  Broker& broker = **opened;
  EXPECT_EQ(SampleCount(broker.GetWriteStats().sync_latency), 0u);

  for (int i = 0; i < 5; ++i) ASSERT_OK(broker.Publish("t", {.payload = "synced"}));
  ASSERT_OK(broker.Publish("t", {.payload = "async"}, {.durability = Durability::kAsync}));

  const WriteStats stats = broker.GetWriteStats();
  EXPECT_EQ(stats.synced_commits, 5u);
  EXPECT_EQ(SampleCount(stats.sync_latency), stats.synced_commits);
  // Real fsyncs take time; the sum is the samples' total, so at least the largest bucket's floor.
  size_t highest = 0;
  for (size_t i = 0; i < stats.sync_latency.counts.size(); ++i) {
    if (stats.sync_latency.counts[i] > 0) highest = i;
  }
  if (highest > 0) {
    EXPECT_GT(stats.sync_latency.sum_micros, SyncLatencyHistogram::kBoundsMicros[highest - 1]);
  }
}

TEST(WriteStatsTest, PublishCallsCountPublishesOnlyNotGroupStateOrDeadLetters) {
  auto opened = Broker::Open(TestOptions(std::make_shared<FakeClock>()));
  ASSERT_OK(opened);
  Broker& broker = **opened;
  ASSERT_OK(broker.Publish("t", {.payload = "a"}));
  ASSERT_OK(broker.PublishBatch("t", {{.payload = "b"}, {.payload = "c"}}));
  auto sub = broker.Subscribe("t", "g", {.member = "m"});
  ASSERT_OK(sub);
  auto polled = (*sub)->Poll(10, std::chrono::milliseconds(0));  // commits the leases
  ASSERT_OK(polled);
  ASSERT_EQ(polled->size(), 3u);
  ASSERT_OK((*sub)->Ack((*polled)[0].record.partition, (*polled)[0].record.offset));
  ASSERT_OK((*sub)->Reject((*polled)[1].record.partition, (*polled)[1].record.offset, "bad"));
  ASSERT_OK(broker.RunDeliveryTimers());  // ships the ack, completes the dead letter

  const WriteStats stats = broker.GetWriteStats();
  EXPECT_EQ(stats.publish_calls, 2u);
  EXPECT_EQ(stats.messages, 4u) << "three published, one dead letter";
  EXPECT_GT(stats.commits, 2u) << "group state and the dead letter were committed too";
}

TEST(WriteStatsTest, BucketBoundsAreIncreasing) {
  const auto& bounds = SyncLatencyHistogram::kBoundsMicros;
  EXPECT_TRUE(std::is_sorted(bounds.begin(), bounds.end()));
  EXPECT_EQ(std::adjacent_find(bounds.begin(), bounds.end()), bounds.end());
}

}  // namespace
}  // namespace broker::testing
