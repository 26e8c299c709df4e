// Topic administration through the public API: create, list, describe, delete, auto-create.
#include <gtest/gtest.h>

#include <filesystem>

#include "broker/broker.h"
#include "engine_test_util.h"

namespace broker {
namespace {

using ::broker::testing::FakeClock;
using ::broker::testing::TestOptions;

class TopicAdminTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(TestOptions(clock_)); }
  void Open(Options options) {
    broker_.reset();
    auto opened = Broker::Open(std::move(options));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(TopicAdminTest, CreateThenDescribeShowsConfigAndEmptyPartitions) {
  const TopicConfig config{.partitions = 3,
                           .retention_age = std::chrono::hours(1),
                           .retention_bytes = 1 << 20,
                           .max_message_bytes = 4096};
  ASSERT_OK(broker_->CreateTopic("orders", config));

  auto info = broker_->DescribeTopic("orders");
  ASSERT_OK(info);
  EXPECT_EQ(info->name, "orders");
  EXPECT_EQ(info->config, config);
  EXPECT_EQ(info->created_at, clock_->Now());
  ASSERT_EQ(info->partitions.size(), 3u);
  for (uint32_t p = 0; p < 3; ++p) {
    EXPECT_EQ(info->partitions[p].partition, PartitionId(p));
    EXPECT_EQ(info->partitions[p].first_offset, Offset(0));
    EXPECT_EQ(info->partitions[p].end_offset, Offset(0));
    EXPECT_EQ(info->partitions[p].records, 0u);
    EXPECT_EQ(info->partitions[p].bytes, 0u);
  }
}

TEST_F(TopicAdminTest, ListIsSortedByName) {
  ASSERT_OK(broker_->CreateTopic("zeta", {}));
  ASSERT_OK(broker_->CreateTopic("alpha", {.partitions = 2}));
  ASSERT_OK(broker_->CreateTopic("mid", {}));
  auto topics = broker_->ListTopics();
  ASSERT_OK(topics);
  ASSERT_EQ(topics->size(), 3u);
  EXPECT_EQ((*topics)[0].name, "alpha");
  EXPECT_EQ((*topics)[0].partitions.size(), 2u);
  EXPECT_EQ((*topics)[1].name, "mid");
  EXPECT_EQ((*topics)[2].name, "zeta");
}

TEST_F(TopicAdminTest, CreatingAnExistingTopicFailsAndKeepsTheOriginal) {
  ASSERT_OK(broker_->CreateTopic("orders", {.partitions = 2}));
  const Status s = broker_->CreateTopic("orders", {.partitions = 5});
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("orders"), std::string::npos) << s.message();
  auto info = broker_->DescribeTopic("orders");
  ASSERT_OK(info);
  EXPECT_EQ(info->config.partitions, 2u);
}

TEST_F(TopicAdminTest, MissingTopicIsNotFound) {
  EXPECT_EQ(broker_->DescribeTopic("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker_->DeleteTopic("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(broker_->Read("nope", PartitionId(0), Offset(0)).status().code(),
            StatusCode::kNotFound);
}

TEST_F(TopicAdminTest, InvalidConfigIsRejectedAndCreatesNothing) {
  EXPECT_EQ(broker_->CreateTopic("t", {.partitions = 0}).code(), StatusCode::kInvalidArgument);
  const Status too_big = broker_->CreateTopic(
      "t", {.max_message_bytes = static_cast<uint32_t>(Limits{}.max_message_bytes + 1)});
  EXPECT_EQ(too_big.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.message().find("limit"), std::string::npos) << too_big.message();
  EXPECT_EQ(broker_->CreateTopic("bad name", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->CreateTopic("", {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->CreateTopic(std::string(201, 'a'), {}).code(), StatusCode::kInvalidArgument);

  auto topics = broker_->ListTopics();
  ASSERT_OK(topics);
  EXPECT_TRUE(topics->empty());
  // The limits themselves are fine.
  EXPECT_OK(broker_->CreateTopic(std::string(200, 'a'), {.max_message_bytes = 1 << 20}));
}

TEST_F(TopicAdminTest, DeleteRemovesTheTopic) {
  ASSERT_OK(broker_->CreateTopic("a", {}));
  ASSERT_OK(broker_->CreateTopic("b", {}));
  ASSERT_OK(broker_->DeleteTopic("a"));
  EXPECT_EQ(broker_->DescribeTopic("a").status().code(), StatusCode::kNotFound);
  auto topics = broker_->ListTopics();
  ASSERT_OK(topics);
  ASSERT_EQ(topics->size(), 1u);
  EXPECT_EQ((*topics)[0].name, "b");
  EXPECT_EQ(broker_->DeleteTopic("a").code(), StatusCode::kNotFound);
}

TEST_F(TopicAdminTest, DeleteThenRecreateStartsAtOffsetZeroWithoutOldData) {
  ASSERT_OK(broker_->CreateTopic("t", {}));
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(broker_->Publish("t", {.payload = "old-" + std::to_string(i),
                                     .idempotency_key = "id-" + std::to_string(i)}));
  }
  ASSERT_OK(broker_->DeleteTopic("t"));
  ASSERT_OK(broker_->CreateTopic("t", {}));

  auto info = broker_->DescribeTopic("t");
  ASSERT_OK(info);
  EXPECT_EQ(info->partitions[0].end_offset, Offset(0));
  auto empty = broker_->Read("t", PartitionId(0), Offset(0));
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->records.empty());

  // The old idempotency keys went with the old topic: the same key is a new publish.
  auto pos = broker_->Publish("t", {.payload = "new", .idempotency_key = "id-3"});
  ASSERT_OK(pos);
  EXPECT_EQ(*pos, (PublishResult{PartitionId(0), Offset(0), false}));
  auto read = broker_->Read("t", PartitionId(0), Offset(0));
  ASSERT_OK(read);
  ASSERT_EQ(read->records.size(), 1u);
  EXPECT_EQ(read->records[0].payload, "new");
  EXPECT_EQ(read->end_offset, Offset(1));
}

TEST_F(TopicAdminTest, AutoCreateOnPublishUsesTheDefaultConfig) {
  Options options = TestOptions(clock_);
  options.default_topic_config = {.partitions = 4, .retention_bytes = 1000};
  Open(options);
  auto pos = broker_->Publish("auto", {.payload = "x"});
  ASSERT_OK(pos);
  EXPECT_EQ(pos->offset, Offset(0));
  auto info = broker_->DescribeTopic("auto");
  ASSERT_OK(info);
  EXPECT_EQ(info->config, options.default_topic_config);
}

TEST_F(TopicAdminTest, AutoCreateOffRefusesUnknownTopicsAndCreatesNothing) {
  Options options = TestOptions(clock_);
  options.auto_create_topics = false;
  Open(options);
  auto one = broker_->Publish("missing", {.payload = "x"});
  EXPECT_EQ(one.status().code(), StatusCode::kNotFound);
  EXPECT_NE(one.status().message().find("missing"), std::string::npos);
  auto batch = broker_->PublishBatch("missing", {{.payload = "a"}, {.payload = "b"}});
  EXPECT_EQ(batch.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker_->DescribeTopic("missing").status().code(), StatusCode::kNotFound);
  auto topics = broker_->ListTopics();
  ASSERT_OK(topics);
  EXPECT_TRUE(topics->empty());

  // An explicitly created topic works as usual.
  ASSERT_OK(broker_->CreateTopic("missing", {}));
  EXPECT_OK(broker_->Publish("missing", {.payload = "x"}));
}

TEST_F(TopicAdminTest, BadPublishDoesNotAutoCreate) {
  EXPECT_EQ(broker_->Publish("bad/name", {.payload = "x"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->Publish("t", {.payload = std::string(Limits{}.max_message_bytes + 1, 'x')})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  auto topics = broker_->ListTopics();
  ASSERT_OK(topics);
  EXPECT_TRUE(topics->empty());
}

TEST(BrokerOpenTest, InMemoryWorksWithTheDefaultRelativeDataDir) {
  Options options;  // data_dir "./broker-data"
  options.in_memory = true;
  options.background_work = false;
  auto opened = Broker::Open(options);
  ASSERT_OK(opened);
  ASSERT_OK((*opened)->Publish("t", {.payload = "x"}));
  EXPECT_FALSE(std::filesystem::exists(options.data_dir)) << "in-memory mode touched the disk";
}

TEST(BrokerOpenTest, InvalidOptionsAreRejected) {
  auto clock = std::make_shared<FakeClock>();
  Options no_window = TestOptions(clock);
  no_window.dedupe_window = std::chrono::milliseconds(0);
  EXPECT_EQ(Broker::Open(no_window).status().code(), StatusCode::kInvalidArgument);

  Options bad_default = TestOptions(clock);
  bad_default.default_topic_config.partitions = 0;
  EXPECT_EQ(Broker::Open(bad_default).status().code(), StatusCode::kInvalidArgument);

  Options no_dir = TestOptions(clock);
  no_dir.data_dir = "";
  EXPECT_EQ(Broker::Open(no_dir).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace broker
