// RequestHandler against a real in-memory engine: each API's answers, and that bad requests get
// Kafka's error code or a closed connection and change nothing.
#include "kafka/handler.h"

#include <gtest/gtest.h>

#include "broker/broker.h"
#include "kafka/record_batch.h"
#include "kafka_test_util.h"

namespace broker::kafka {
namespace {

using testing::Call;
using testing::Parse;
using testing::ProduceFrame;
using testing::RequestFrame;

struct ProducePartitionResult {
  int32_t index = 0;
  int16_t error = 0;
  int64_t base_offset = 0;
};

struct FetchPartitionResult {
  int16_t error = 0;
  int64_t high_watermark = 0;
  int64_t log_start = 0;
  std::vector<KafkaRecord> records;
  std::vector<int64_t> offsets;
  bool log_append_time = false;
};

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.in_memory = true;
    options.background_work = false;
    options.data_dir = "kafka-handler-test";
    auto opened = Broker::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    broker_ = std::move(opened).value();
    handler_ = std::make_unique<RequestHandler>(*broker_, HandlerConfig{.advertised_port = 19092});
  }

  Reply Produce(int16_t acks, const std::string& topic, int32_t partition,
                const std::optional<std::string>& records, int16_t version = 7) {
    return Call(*handler_,
                ProduceFrame(version, acks, topic, partition,
                             records ? std::optional<std::string_view>(*records) : std::nullopt));
  }

  ProducePartitionResult ProduceResult(const Reply& reply) {
    const std::string r_bytes = Parse(reply).body;
    Reader r(r_bytes);
    EXPECT_EQ(r.Int32(), 1);
    r.String();
    EXPECT_EQ(r.Int32(), 1);
    ProducePartitionResult out;
    out.index = r.Int32();
    out.error = r.Int16();
    out.base_offset = r.Int64();
    r.Int64();  // log append time
    r.Int64();  // log start
    r.Int32();  // throttle
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.remaining(), 0u);
    return out;
  }

  FetchPartitionResult Fetch(const std::string& topic, int32_t partition, int64_t offset,
                             int32_t max_wait_ms = 0) {
    Reply reply = Call(*handler_, RequestFrame(ApiKey::kFetch, 11, 6, [&](Writer& w) {
      w.Int32(-1);
      w.Int32(max_wait_ms);
      w.Int32(1);
      w.Int32(1 << 20);
      w.Int8(0);
      w.Int32(0);
      w.Int32(-1);
      w.Int32(1);
      w.String(topic);
      w.Int32(1);
      w.Int32(partition);
      w.Int32(-1);
      w.Int64(offset);
      w.Int64(-1);
      w.Int32(1 << 20);
      w.Int32(0);  // forgotten topics
      w.String("");
    }));
    const std::string r_bytes = Parse(reply).body;
    Reader r(r_bytes);
    r.Int32();
    EXPECT_EQ(r.Int16(), 0);
    r.Int32();
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.String(), topic);
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.Int32(), partition);
    FetchPartitionResult out;
    out.error = r.Int16();
    out.high_watermark = r.Int64();
    EXPECT_EQ(r.Int64(), out.high_watermark);  // last stable offset
    out.log_start = r.Int64();
    EXPECT_EQ(r.Int32(), -1);  // aborted transactions
    EXPECT_EQ(r.Int32(), -1);  // preferred read replica
    std::string_view records = r.NullableBytes().value_or("");
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.remaining(), 0u);
    // Split the served batches and decode each.
    while (!records.empty()) {
      Reader b(records);
      const int64_t base = b.Int64();
      const auto size = static_cast<size_t>(b.Int32()) + 12;
      const std::string_view batch = records.substr(0, size);
      out.log_append_time = (static_cast<uint8_t>(batch[22]) & 0x08) != 0;
      DecodedBatch decoded = DecodeProduceBatch(batch, 1 << 20);
      EXPECT_EQ(decoded.error, ErrorCode::kNone) << decoded.error_message;
      for (size_t i = 0; i < decoded.records.size(); ++i) {
        out.offsets.push_back(base + static_cast<int64_t>(i));
        out.records.push_back(decoded.records[i]);
      }
      records.remove_prefix(size);
    }
    return out;
  }

  Offset EndOffset(const std::string& topic, uint32_t partition) {
    auto info = broker_->DescribeTopic(topic);
    return info.ok() ? info->partitions[partition].end_offset : Offset(0);
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<RequestHandler> handler_;
};

std::vector<KafkaRecord> Records() {
  return {
      {.key = std::string("k"), .value = std::string("v"), .headers = {{"h", "1"}, {"h", ""}}},
      {.key = std::nullopt, .value = std::string("no key"), .headers = {}},
      {.key = std::string(), .value = std::nullopt, .headers = {}},
  };
}

TEST_F(HandlerTest, ApiVersionsAdvertisesExactlyTheImplementedApis) {
  for (int16_t version : {0, 1, 2, 3}) {
    Reply reply = Call(*handler_, RequestFrame(ApiKey::kApiVersions, version, 42, [&](Writer& w) {
      if (version >= 3) {
        w.CompactString("test");
        w.CompactString("1.0");
        w.EmptyTaggedFields();
      }
    }));
    auto response = Parse(reply);
    EXPECT_EQ(response.correlation_id, 42);
    Reader r(response.body);
    EXPECT_EQ(r.Int16(), 0);
    const int32_t n = version >= 3 ? static_cast<int32_t>(r.UnsignedVarint()) - 1 : r.Int32();
    std::map<int16_t, std::pair<int16_t, int16_t>> apis;
    for (int32_t i = 0; i < n; ++i) {
      const int16_t key = r.Int16();
      const int16_t min = r.Int16();
      apis[key] = {min, r.Int16()};
      if (version >= 3) r.SkipTaggedFields();
    }
    if (version >= 1) r.Int32();
    if (version >= 3) r.SkipTaggedFields();
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.remaining(), 0u) << version;
    const std::map<int16_t, std::pair<int16_t, int16_t>> expected = {
        {0, {3, 7}},  {1, {4, 11}}, {2, {1, 3}},  {3, {0, 6}},  {8, {2, 7}},
        {9, {1, 5}},  {10, {0, 2}}, {11, {0, 5}}, {12, {0, 3}}, {13, {0, 3}},
        {14, {0, 3}}, {15, {0, 4}}, {18, {0, 3}}, {19, {0, 4}}, {22, {0, 1}}};
    EXPECT_EQ(apis, expected) << version;
  }
}

TEST_F(HandlerTest, ApiVersionsOfAnUnknownVersionAnswersUnsupportedVersionInV0) {
  Reply reply = Call(*handler_, RequestFrame(ApiKey::kApiVersions, 9, 7, [](Writer& w) {
    w.CompactString("future");
    w.CompactString("9");
    w.EmptyTaggedFields();
  }));
  auto response = Parse(reply);
  EXPECT_EQ(response.correlation_id, 7);
  Reader r(response.body);
  EXPECT_EQ(r.Int16(), Wire(ErrorCode::kUnsupportedVersion));
  EXPECT_EQ(r.Int32(), static_cast<int32_t>(kSupportedApis.size()));
}

TEST_F(HandlerTest, UnknownApiKeyClosesTheConnection) {
  Writer w;
  w.Int16(17);  // SaslHandshake: not implemented here
  w.Int16(0);
  w.Int32(1);
  w.NullableString(std::nullopt);
  EXPECT_EQ(Call(*handler_, w.Take()).kind, Reply::Kind::kClose);
}

TEST_F(HandlerTest, UnsupportedVersionOfAnotherApiClosesTheConnection) {
  EXPECT_EQ(Produce(-1, "t", 0, EncodeProducerBatch(Records(), false), 2).kind,
            Reply::Kind::kClose);
  EXPECT_EQ(Produce(-1, "t", 0, EncodeProducerBatch(Records(), false), 8).kind,
            Reply::Kind::kClose);
}

TEST_F(HandlerTest, TruncatedRequestClosesTheConnectionAndAppendsNothing) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  const std::string full = RequestFrame(ApiKey::kProduce, 7, 5, [&](Writer& w) {
    w.NullableString(std::nullopt);
    w.Int16(-1);
    w.Int32(30000);
    w.Int32(1);
    w.String("t");
    w.Int32(1);
    w.Int32(0);
    w.NullableBytes(EncodeProducerBatch(Records(), false));
  });
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(Call(*handler_, full.substr(0, n)).kind, Reply::Kind::kClose) << n;
  }
  EXPECT_EQ(Call(*handler_, full + "x").kind, Reply::Kind::kClose);
  EXPECT_EQ(EndOffset("t", 0), Offset(0));
}

TEST_F(HandlerTest, ProducedRecordsFetchBackWithKeysHeadersAndNullsIntact) {
  ASSERT_TRUE(broker_->CreateTopic("t", {.partitions = 1}).ok());
  ProducePartitionResult first =
      ProduceResult(Produce(-1, "t", 0, EncodeProducerBatch(Records(), false)));
  EXPECT_EQ(first.error, 0);
  EXPECT_EQ(first.base_offset, 0);
  ProducePartitionResult second =
      ProduceResult(Produce(1, "t", 0, EncodeProducerBatch(Records(), true)));
  EXPECT_EQ(second.error, 0);
  EXPECT_EQ(second.base_offset, 3);  // the batch's base offset

  FetchPartitionResult fetched = Fetch("t", 0, 0);
  EXPECT_EQ(fetched.error, 0);
  EXPECT_EQ(fetched.high_watermark, 6);
  EXPECT_TRUE(fetched.log_append_time);
  std::vector<KafkaRecord> expected = Records();
  for (const KafkaRecord& r : Records()) expected.push_back(r);
  EXPECT_EQ(fetched.records, expected);
  EXPECT_EQ(fetched.offsets, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));

  FetchPartitionResult tail = Fetch("t", 0, 4);
  EXPECT_EQ(tail.offsets, (std::vector<int64_t>{4, 5}));
}

TEST_F(HandlerTest, ProducerPartitionChoiceIsHonoured) {
  ASSERT_TRUE(broker_->CreateTopic("t", {.partitions = 3}).ok());
  std::vector<KafkaRecord> keyed = {
      {.key = std::string("same-key"), .value = std::string("x"), .headers = {}}};
  for (int32_t p : {2, 0, 1}) {
    ProducePartitionResult r =
        ProduceResult(Produce(-1, "t", p, EncodeProducerBatch(keyed, false)));
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(r.index, p);
  }
  for (uint32_t p = 0; p < 3; ++p) EXPECT_EQ(EndOffset("t", p), Offset(1)) << p;
}

TEST_F(HandlerTest, BadBatchesGetKafkaErrorsAndAppendNothing) {
  ASSERT_TRUE(broker_->CreateTopic("t", {.partitions = 1}).ok());
  std::string bad_crc = EncodeProducerBatch(Records(), false);
  bad_crc.back() ^= 1;
  EXPECT_EQ(ProduceResult(Produce(-1, "t", 0, bad_crc)).error, Wire(ErrorCode::kCorruptMessage));
  std::string truncated = EncodeProducerBatch(Records(), false);
  truncated.pop_back();
  EXPECT_EQ(ProduceResult(Produce(-1, "t", 0, truncated)).error, Wire(ErrorCode::kCorruptMessage));
  EXPECT_EQ(ProduceResult(Produce(-1, "t", 0, std::nullopt)).error,
            Wire(ErrorCode::kInvalidRecord));
  EXPECT_EQ(ProduceResult(Produce(2, "t", 0, EncodeProducerBatch(Records(), false))).error,
            Wire(ErrorCode::kInvalidRequiredAcks));
  EXPECT_EQ(ProduceResult(Produce(-1, "t", 1, EncodeProducerBatch(Records(), false))).error,
            Wire(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_EQ(ProduceResult(Produce(-1, "t", -1, EncodeProducerBatch(Records(), false))).error,
            Wire(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_EQ(ProduceResult(Produce(-1, "missing", 0, EncodeProducerBatch(Records(), false))).error,
            Wire(ErrorCode::kUnknownTopicOrPartition));
  std::vector<KafkaRecord> reserved = {{.key = std::nullopt,
                                        .value = std::string("v"),
                                        .headers = {{std::string(kNullValueHeader), ""}}}};
  EXPECT_EQ(ProduceResult(Produce(-1, "t", 0, EncodeProducerBatch(reserved, false))).error,
            Wire(ErrorCode::kInvalidRecord));
  EXPECT_EQ(EndOffset("t", 0), Offset(0));
  EXPECT_FALSE(broker_->DescribeTopic("missing").ok());
}

TEST_F(HandlerTest, AcksZeroAppendsWithoutAResponse) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  EXPECT_EQ(Produce(0, "t", 0, EncodeProducerBatch(Records(), false)).kind,
            Reply::Kind::kNoResponse);
  EXPECT_EQ(EndOffset("t", 0), Offset(3));
}

TEST_F(HandlerTest, FetchOfAnEmptyPartitionReturnsItsHighWatermarkAfterMaxWait) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  FetchPartitionResult empty = Fetch("t", 0, 0, 20);
  EXPECT_EQ(empty.error, 0);
  EXPECT_EQ(empty.high_watermark, 0);
  EXPECT_TRUE(empty.records.empty());
  ASSERT_TRUE(broker_->Publish("t", {.payload = "a"}).ok());
  FetchPartitionResult at_end = Fetch("t", 0, 1, 20);
  EXPECT_EQ(at_end.error, 0);
  EXPECT_EQ(at_end.high_watermark, 1);
  EXPECT_TRUE(at_end.records.empty());
}

TEST_F(HandlerTest, FetchWaitingForRecordsWakesOnAppend) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  std::promise<FetchPartitionResult> fetched;
  std::thread fetcher([&] { fetched.set_value(Fetch("t", 0, 0, 30000)); });
  ASSERT_TRUE(broker_->Publish("t", {.payload = "late"}).ok());
  FetchPartitionResult r = fetched.get_future().get();
  fetcher.join();
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].value, std::optional<std::string>("late"));
}

TEST_F(HandlerTest, FetchOutsideTheLogIsOffsetOutOfRange) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  EXPECT_EQ(Fetch("t", 0, 5).error, Wire(ErrorCode::kOffsetOutOfRange));
  EXPECT_EQ(Fetch("t", 0, -1).error, Wire(ErrorCode::kOffsetOutOfRange));
  EXPECT_EQ(Fetch("t", 3, 0).error, Wire(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_EQ(Fetch("nope", 0, 0).error, Wire(ErrorCode::kUnknownTopicOrPartition));
}

TEST_F(HandlerTest, ListOffsetsAnswersEarliestLatestAndByTime) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(broker_->Publish("t", {.payload = "x"}).ok());
  auto list = [&](int64_t timestamp) {
    Reply reply = Call(*handler_, RequestFrame(ApiKey::kListOffsets, 3, 9, [&](Writer& w) {
      w.Int32(-1);
      w.Int8(0);
      w.Int32(1);
      w.String("t");
      w.Int32(1);
      w.Int32(0);
      w.Int64(timestamp);
    }));
    const std::string r_bytes = Parse(reply).body;
    Reader r(r_bytes);
    r.Int32();
    r.Int32();
    r.String();
    r.Int32();
    r.Int32();
    EXPECT_EQ(r.Int16(), 0);
    const int64_t ts = r.Int64();
    const int64_t offset = r.Int64();
    EXPECT_EQ(r.remaining(), 0u);
    return std::make_pair(ts, offset);
  };
  EXPECT_EQ(list(-1).second, 3);
  EXPECT_EQ(list(-2).second, 0);
  EXPECT_EQ(list(0).second, 0);  // every record is after time 0
  EXPECT_EQ(list(INT64_MAX / 2), std::make_pair(int64_t{-1}, int64_t{-1}));  // none that late
}

TEST_F(HandlerTest, MetadataListsTopicsThisNodeLeadsAndAutoCreates) {
  ASSERT_TRUE(broker_->CreateTopic("a", {.partitions = 2}).ok());
  auto metadata = [&](int16_t version, const std::vector<std::string>& topics, bool allow) {
    Reply reply = Call(*handler_, RequestFrame(ApiKey::kMetadata, version, 3, [&](Writer& w) {
      w.Int32(static_cast<int32_t>(topics.size()));
      for (const auto& t : topics) w.String(t);
      if (version >= 4) w.Bool(allow);
    }));
    return Parse(reply).body;
  };
  const std::string r_bytes = metadata(6, {"a", "new-topic"}, true);
  Reader r(r_bytes);
  r.Int32();
  EXPECT_EQ(r.Int32(), 1);  // brokers
  EXPECT_EQ(r.Int32(), 1);  // node id
  r.String();
  EXPECT_EQ(r.Int32(), 19092);
  r.NullableString();
  EXPECT_EQ(r.NullableString(), std::optional<std::string>("brokerd"));
  EXPECT_EQ(r.Int32(), 1);  // controller
  EXPECT_EQ(r.Int32(), 2);  // topics
  EXPECT_EQ(r.Int16(), 0);
  EXPECT_EQ(r.String(), "a");
  EXPECT_TRUE(broker_->DescribeTopic("new-topic").ok());

  // Partitions of "a", each led by this node.
  EXPECT_EQ(r.Bool(), false);
  ASSERT_EQ(r.Int32(), 2);
  for (int32_t p = 0; p < 2; ++p) {
    EXPECT_EQ(r.Int16(), 0);
    EXPECT_EQ(r.Int32(), p);
    EXPECT_EQ(r.Int32(), 1);  // leader
    EXPECT_EQ(r.Int32(), 1);  // replicas
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.Int32(), 1);  // in-sync replicas
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.Int32(), 0);  // offline replicas
  }
  EXPECT_FALSE(r.failed());

  auto single_topic_error = [&](const std::string& topic, bool allow) {
    const std::string m_bytes = metadata(6, {topic}, allow);
    Reader m(m_bytes);
    m.Int32();
    m.Int32();
    m.Int32();
    m.String();
    m.Int32();
    m.NullableString();
    m.NullableString();
    m.Int32();
    EXPECT_EQ(m.Int32(), 1);
    return m.Int16();
  };
  EXPECT_EQ(single_topic_error("not-created", false), Wire(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_FALSE(broker_->DescribeTopic("not-created").ok());
  EXPECT_EQ(single_topic_error("bad name", true), Wire(ErrorCode::kInvalidTopic));
}

TEST_F(HandlerTest, CreateTopicsCreatesAndRefusesWithKafkaCodes) {
  ASSERT_TRUE(broker_->CreateTopic("exists", {}).ok());
  struct Case {
    std::string name;
    int32_t partitions;
    int16_t replication;
    std::vector<std::pair<std::string, std::string>> configs;
  };
  const std::vector<Case> cases = {
      {"ok", 3, -1, {{"retention.ms", "60000"}}},
      {"exists", 1, 1, {}},
      {"bad name", 1, 1, {}},
      {"zero", 0, 1, {}},
      {"rf3", 1, 3, {}},
      {"cfg", 1, 1, {{"cleanup.policy", "compact"}}},
  };
  Reply reply = Call(*handler_, RequestFrame(ApiKey::kCreateTopics, 4, 3, [&](Writer& w) {
    w.Int32(static_cast<int32_t>(cases.size()));
    for (const Case& c : cases) {
      w.String(c.name);
      w.Int32(c.partitions);
      w.Int16(c.replication);
      w.Int32(0);
      w.Int32(static_cast<int32_t>(c.configs.size()));
      for (const auto& [k, v] : c.configs) {
        w.String(k);
        w.NullableString(v);
      }
    }
    w.Int32(1000);
    w.Bool(false);
  }));
  const std::string r_bytes = Parse(reply).body;
  Reader r(r_bytes);
  r.Int32();
  ASSERT_EQ(r.Int32(), 6);
  std::vector<int16_t> errors;
  for (int i = 0; i < 6; ++i) {
    r.String();
    errors.push_back(r.Int16());
    r.NullableString();
  }
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(errors,
            (std::vector<int16_t>{
                0, Wire(ErrorCode::kTopicAlreadyExists), Wire(ErrorCode::kInvalidTopic),
                Wire(ErrorCode::kInvalidPartitions), Wire(ErrorCode::kInvalidReplicationFactor),
                Wire(ErrorCode::kInvalidConfig)}));
  auto created = broker_->DescribeTopic("ok");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->config.partitions, 3u);
  EXPECT_EQ(created->config.retention_age, std::chrono::milliseconds(60000));
  EXPECT_FALSE(broker_->DescribeTopic("zero").ok());
  EXPECT_FALSE(broker_->DescribeTopic("cfg").ok());
}

}  // namespace
}  // namespace broker::kafka
