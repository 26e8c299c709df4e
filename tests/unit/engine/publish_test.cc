// Publishing through the public API: positions, partitioning, record contents, atomic batches.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>

#include "broker/broker.h"
#include "engine_test_util.h"
#include "storage/partitioner.h"

namespace broker {
namespace {

using ::broker::testing::FakeClock;
using ::broker::testing::ReadAll;
using ::broker::testing::TestOptions;

class PublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Broker::Open(TestOptions(clock_));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }

  Offset EndOffset(std::string_view topic, uint32_t partition) {
    auto info = broker_->DescribeTopic(topic);
    EXPECT_OK(info);
    return info.ok() ? info->partitions[partition].end_offset : Offset(UINT64_MAX);
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(PublishTest, SinglePublishesGetDenseOffsets) {
  for (uint64_t i = 0; i < 5; ++i) {
    auto pos = broker_->Publish("t", {.payload = "m" + std::to_string(i)});
    ASSERT_OK(pos);
    EXPECT_EQ(*pos, (PublishResult{PartitionId(0), Offset(i), false}));
  }
  EXPECT_EQ(EndOffset("t", 0), Offset(5));
}

TEST_F(PublishTest, BatchResultsAreInMessageOrder) {
  std::vector<Message> batch;
  for (int i = 0; i < 5; ++i) batch.push_back({.payload = "a" + std::to_string(i)});
  auto first = broker_->PublishBatch("t", batch);
  ASSERT_OK(first);
  auto second = broker_->PublishBatch("t", batch);
  ASSERT_OK(second);
  ASSERT_EQ(first->size(), 5u);
  ASSERT_EQ(second->size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*first)[i], (PublishResult{PartitionId(0), Offset(i), false}));
    EXPECT_EQ((*second)[i], (PublishResult{PartitionId(0), Offset(5 + i), false}));
  }
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ((*records)[i].offset, Offset(i));
    EXPECT_EQ((*records)[i].payload, "a" + std::to_string(i % 5));
  }
}

TEST_F(PublishTest, PublishAsyncReportsPositionsThroughTheCallback) {
  std::promise<Result<std::vector<PublishResult>>> done;
  auto future = done.get_future();
  broker_->PublishAsync("t", {{.payload = "x"}, {.payload = "y"}}, {},
                        [&done](Result<std::vector<PublishResult>> r) {
                          done.set_value(std::move(r));
                        });
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto result = future.get();
  ASSERT_OK(result);
  ASSERT_EQ(result->size(), 2u);
  EXPECT_EQ((*result)[1].offset, Offset(1));
}

TEST_F(PublishTest, AKeyAlwaysLandsOnItsHashPartition) {
  constexpr uint32_t kPartitions = 8;
  ASSERT_OK(broker_->CreateTopic("keyed", {.partitions = kPartitions}));
  std::map<std::string, std::set<uint32_t>> partitions_of_key;
  for (int round = 0; round < 10; ++round) {
    std::vector<Message> batch;
    for (int k = 0; k < 20; ++k) {
      batch.push_back({.key = "customer-" + std::to_string(k), .payload = std::to_string(round)});
    }
    auto results = broker_->PublishBatch("keyed", batch);
    ASSERT_OK(results);
    for (size_t i = 0; i < batch.size(); ++i) {
      const PartitionId p = (*results)[i].partition;
      EXPECT_EQ(p, storage::PartitionForKey(*batch[i].key, kPartitions));
      partitions_of_key[*batch[i].key].insert(p.value());
    }
  }
  std::set<uint32_t> used;
  for (const auto& [key, partitions] : partitions_of_key) {
    EXPECT_EQ(partitions.size(), 1u) << key;
    used.insert(partitions.begin(), partitions.end());
  }
  EXPECT_GT(used.size(), 1u);  // 20 keys do not all hash to one partition

  // Per partition, a key's records are in publish order.
  for (uint32_t p = 0; p < kPartitions; ++p) {
    auto records = ReadAll(*broker_, "keyed", PartitionId(p));
    ASSERT_OK(records);
    std::map<std::string, int> last_round;
    for (const Record& r : *records) {
      const int round = std::stoi(r.payload);
      auto [it, inserted] = last_round.try_emplace(*r.key, round);
      if (!inserted) {
        EXPECT_EQ(round, it->second + 1) << *r.key;
        it->second = round;
      }
    }
  }
}

TEST_F(PublishTest, MessagesWithoutKeyGoRoundRobin) {
  constexpr uint32_t kPartitions = 4;
  ASSERT_OK(broker_->CreateTopic("rr", {.partitions = kPartitions}));
  std::vector<uint32_t> seen;
  for (int i = 0; i < 8; ++i) {
    auto pos = broker_->Publish("rr", {.payload = "x"});
    ASSERT_OK(pos);
    seen.push_back(pos->partition.value());
  }
  auto batch = broker_->PublishBatch("rr", std::vector<Message>(4, Message{.payload = "y"}));
  ASSERT_OK(batch);
  for (const auto& r : *batch) seen.push_back(r.partition.value());
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], (seen[i - 1] + 1) % kPartitions) << "publish " << i;
  }
  for (uint32_t p = 0; p < kPartitions; ++p) EXPECT_EQ(EndOffset("rr", p), Offset(3));
}

TEST_F(PublishTest, KeysPayloadsAndHeadersReadBackIntact) {
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  const std::vector<Message> messages = {
      {.key = std::string("k\0ey\xff", 5),
       .payload = all_bytes,
       .headers = {{"traceparent", "00-abc-01"}, {"dup", "1"}, {"dup", std::string("\0\x01", 2)}}},
      {.payload = ""},                              // empty payload, no key
      {.key = "", .payload = "empty key"},          // empty key is still a key
      {.payload = std::string(100000, '\x7f')},    // large
  };
  ASSERT_OK(broker_->PublishBatch("t", messages));
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const Record& r = (*records)[i];
    EXPECT_EQ(r.partition, PartitionId(0));
    EXPECT_EQ(r.offset, Offset(i));
    EXPECT_EQ(r.key, messages[i].key) << i;
    EXPECT_EQ(r.payload, messages[i].payload) << i;
    EXPECT_EQ(r.headers, messages[i].headers) << i;
  }
}

TEST_F(PublishTest, TimestampIsTheBrokerClockAtAppend) {
  const TimePoint t0 = clock_->Now();
  ASSERT_OK(broker_->Publish("t", {.payload = "a"}));
  clock_->Advance(std::chrono::microseconds(1234567));
  ASSERT_OK(broker_->PublishBatch("t", {{.payload = "b"}, {.payload = "c"}}));
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].timestamp, t0);
  EXPECT_EQ((*records)[1].timestamp, t0 + std::chrono::microseconds(1234567));
  EXPECT_EQ((*records)[2].timestamp, t0 + std::chrono::microseconds(1234567));
}

TEST_F(PublishTest, OversizedMessageFailsTheWholeBatch) {
  ASSERT_OK(broker_->PublishBatch("t", {{.payload = "a"}, {.payload = "b"}}));
  const size_t limit = Limits{}.max_message_bytes;
  auto result = broker_->PublishBatch(
      "t", {{.payload = "ok"}, {.payload = std::string(limit + 1, 'x')}, {.payload = "ok"}});
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("message 1"), std::string::npos)
      << result.status().message();
  EXPECT_EQ(EndOffset("t", 0), Offset(2));
  // A message of exactly the limit is fine.
  auto at_limit = broker_->Publish("t", {.payload = std::string(limit, 'x')});
  ASSERT_OK(at_limit);
  EXPECT_EQ(at_limit->offset, Offset(2));
}

TEST_F(PublishTest, TopicMessageLimitAppliesAndFailsTheWholeBatch) {
  ASSERT_OK(broker_->CreateTopic("small", {.partitions = 2, .max_message_bytes = 100}));
  ASSERT_OK(broker_->Publish("small", {.key = "k", .payload = std::string(99, 'x')}));
  auto result = broker_->PublishBatch(
      "small", {{.payload = "a"}, {.payload = "b"}, {.key = "k", .payload = std::string(100, 'x')}});
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  auto info = broker_->DescribeTopic("small");
  ASSERT_OK(info);
  uint64_t total = 0;
  for (const auto& p : info->partitions) total += p.end_offset.value();
  EXPECT_EQ(total, 1u);
}

TEST_F(PublishTest, BadRequestsAreRejected) {
  EXPECT_EQ(broker_->PublishBatch("t", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->Publish("", {.payload = "x"}).status().code(), StatusCode::kInvalidArgument);
  const std::vector<Message> too_many(Limits{}.max_batch_messages + 1, Message{.payload = "x"});
  EXPECT_EQ(broker_->PublishBatch("t", too_many).status().code(), StatusCode::kInvalidArgument);
  Message many_headers{.payload = "x"};
  for (size_t i = 0; i <= Limits{}.max_headers; ++i) many_headers.headers.emplace_back("h", "v");
  EXPECT_EQ(broker_->Publish("t", many_headers).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->DescribeTopic("t").status().code(), StatusCode::kNotFound);
}

TEST_F(PublishTest, RequireSubscribersRefusesATopicNobodyServesAndAppendsNothing) {
  const PublishOptions request{.durability = std::nullopt, .require_subscribers = true};
  auto refused = broker_->Publish("svc", {.payload = "req"}, request);
  EXPECT_EQ(refused.status().code(), StatusCode::kNoResponders);
  EXPECT_NE(refused.status().message().find("svc"), std::string::npos);
  EXPECT_FALSE(broker_->DescribeTopic("svc").ok()) << "a refused request must not create its topic";

  auto sub = broker_->Subscribe("svc", "responders", {});
  ASSERT_OK(sub);
  auto served = broker_->Publish("svc", {.payload = "req"}, request);
  ASSERT_OK(served);
  EXPECT_EQ(served->offset, Offset(0));

  sub->reset();  // the last member left: refused again, and the log keeps its one record
  EXPECT_EQ(broker_->Publish("svc", {.payload = "req"}, request).status().code(),
            StatusCode::kNoResponders);
  EXPECT_EQ(EndOffset("svc", 0), Offset(1));
}

TEST_F(PublishTest, WriteStatsCountMessagesAndCalls) {
  ASSERT_OK(broker_->Publish("t", {.payload = "a"}));
  ASSERT_OK(broker_->PublishBatch("t", {{.payload = "b"}, {.payload = "c"}}));
  const WriteStats stats = broker_->GetWriteStats();
  EXPECT_EQ(stats.messages, 3u);
  EXPECT_EQ(stats.publish_calls, 2u);
  EXPECT_EQ(stats.synced_messages, 3u);
  EXPECT_EQ(stats.duplicates, 0u);
}

TEST_F(PublishTest, ExplicitPartitionOverridesKeyHashAndRoundRobin) {
  ASSERT_OK(broker_->CreateTopic("p", {.partitions = 3}));
  const std::string key = "k";
  const uint32_t hashed = storage::PartitionForKey(key, 3).value();
  const PartitionId chosen((hashed + 1) % 3);
  std::vector<Message> batch = {{.key = key, .payload = "keyed"}, {.payload = "unkeyed"}};
  auto published = broker_->PublishBatch("p", batch, {.partition = chosen});
  ASSERT_OK(published);
  EXPECT_EQ((*published)[0], (PublishResult{chosen, Offset(0), false}));
  EXPECT_EQ((*published)[1], (PublishResult{chosen, Offset(1), false}));
  EXPECT_EQ(EndOffset("p", chosen.value()), Offset(2));
  EXPECT_EQ(EndOffset("p", hashed), Offset(0));
}

TEST_F(PublishTest, ExplicitPartitionOutOfRangeWritesNothing) {
  ASSERT_OK(broker_->CreateTopic("p", {.partitions = 2}));
  auto published = broker_->Publish("p", {.payload = "x"}, {.partition = PartitionId(2)});
  ASSERT_FALSE(published.ok());
  EXPECT_EQ(published.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EndOffset("p", 0), Offset(0));
  EXPECT_EQ(EndOffset("p", 1), Offset(0));
}

}  // namespace
}  // namespace broker
