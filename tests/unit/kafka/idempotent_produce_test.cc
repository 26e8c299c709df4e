// Idempotent producers through RequestHandler on a real engine: InitProducerId hands out ids, a
// retried batch is answered with its first offsets and appends nothing (also after the broker
// reopens: the engine's persisted dedupe), and a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "broker/broker.h"
#include "kafka/crc32c.h"
#include "kafka/handler.h"
#include "kafka/record_batch.h"
#include "kafka_test_util.h"

namespace broker::kafka {
namespace {

using testing::Call;
using testing::Parse;
using testing::ProduceFrame;
using testing::RequestFrame;
using testing::Response;

// A producer batch of `values` stamped with an idempotent producer's fields (offsets in the v2
// batch header: producerId 43, producerEpoch 51, baseSequence 53; the CRC covers byte 21 on).
std::string IdempotentBatch(const std::vector<std::string>& values, int64_t producer_id,
                            int32_t base_sequence) {
  std::vector<KafkaRecord> records;
  for (const auto& v : values) records.push_back({.key = std::nullopt, .value = v, .headers = {}});
  std::string batch = EncodeProducerBatch(records, false);
  Writer fields;
  fields.Int64(producer_id);
  fields.Int16(0);
  fields.Int32(base_sequence);
  batch.replace(43, fields.size(), fields.data());
  Writer crc;
  crc.Int32(static_cast<int32_t>(Crc32c(std::string_view(batch).substr(21))));
  batch.replace(17, 4, crc.data());
  return batch;
}

class IdempotentProduceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    handler_.reset();
    broker_.reset();
    Options options;
    options.data_dir = dir_.string();
    options.background_work = false;
    auto opened = Broker::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    broker_ = std::move(opened).value();
    handler_ = std::make_unique<RequestHandler>(*broker_, HandlerConfig{});
  }

  void TearDown() override {
    handler_.reset();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t InitProducerId(int16_t version = 1, std::optional<std::string> transactional_id = {},
                         int16_t* error = nullptr) {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kInitProducerId, version, 3, [&](Writer& w) {
          w.NullableString(transactional_id);
          w.Int32(60000);
        })));
    Reader r(response.body);
    r.Int32();
    const int16_t e = r.Int16();
    if (error != nullptr) *error = e;
    const int64_t id = r.Int64();
    EXPECT_EQ(r.Int16(), e == 0 ? 0 : -1);
    EXPECT_EQ(r.remaining(), 0u);
    return id;
  }

  // Produce v7 of one batch to partition 0 of "orders": (error, base offset).
  std::pair<int16_t, int64_t> Produce(const std::string& batch) {
    const Response response = Parse(Call(*handler_, ProduceFrame(7, -1, "orders", 0, batch)));
    Reader r(response.body);
    r.Int32();
    r.String();
    r.Int32();
    r.Int32();
    const int16_t error = r.Int16();
    return {error, r.Int64()};
  }

  uint64_t EndOffset() {
    auto info = broker_->DescribeTopic("orders");
    EXPECT_TRUE(info.ok());
    return info.ok() ? info->partitions[0].end_offset.value() : 0;
  }

  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("kafka-idempotence-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<RequestHandler> handler_;
};

TEST_F(IdempotentProduceTest, ProducerIdsAreDistinctAndTransactionsAreRefused) {
  const int64_t a = InitProducerId(0);
  const int64_t b = InitProducerId(1);
  EXPECT_GT(a, 0);
  EXPECT_GT(b, a);
  int16_t error = 0;
  EXPECT_EQ(InitProducerId(1, "tx-1", &error), -1);
  EXPECT_EQ(error, Wire(ErrorCode::kInvalidRequest));
  Open();
  EXPECT_GT(InitProducerId(), b) << "ids stay unique after a restart";
}

TEST_F(IdempotentProduceTest, ARetriedBatchGetsItsFirstOffsetsAndAppendsNothing) {
  ASSERT_TRUE(broker_->CreateTopic("orders", TopicConfig{}).ok());
  const int64_t id = InitProducerId();
  EXPECT_EQ(Produce(IdempotentBatch({"a", "b"}, id, 0)), std::make_pair(int16_t{0}, int64_t{0}));
  EXPECT_EQ(Produce(IdempotentBatch({"c"}, id, 2)), std::make_pair(int16_t{0}, int64_t{2}));
  EXPECT_EQ(Produce(IdempotentBatch({"a", "b"}, id, 0)), std::make_pair(int16_t{0}, int64_t{0}))
      << "a retry is answered with the original offsets";
  EXPECT_EQ(EndOffset(), 3u);

  Open();  // the dedupe keys are persisted: a retry after a restart is still caught
  EXPECT_EQ(Produce(IdempotentBatch({"c"}, id, 2)), std::make_pair(int16_t{0}, int64_t{2}));
  EXPECT_EQ(Produce(IdempotentBatch({"d"}, id, 3)), std::make_pair(int16_t{0}, int64_t{3}));
  EXPECT_EQ(EndOffset(), 4u);
}

TEST_F(IdempotentProduceTest, ASequenceGapIsOutOfOrderAndAppendsNothing) {
  ASSERT_TRUE(broker_->CreateTopic("orders", TopicConfig{}).ok());
  const int64_t id = InitProducerId();
  ASSERT_EQ(Produce(IdempotentBatch({"a"}, id, 0)).first, 0);
  EXPECT_EQ(Produce(IdempotentBatch({"c"}, id, 2)).first,
            Wire(ErrorCode::kOutOfOrderSequenceNumber));
  EXPECT_EQ(EndOffset(), 1u);
  EXPECT_EQ(Produce(IdempotentBatch({"b"}, id, 1)), std::make_pair(int16_t{0}, int64_t{1}));
  // Another producer's sequences are its own.
  EXPECT_EQ(Produce(IdempotentBatch({"x"}, InitProducerId(), 0)).first, 0);
  EXPECT_EQ(EndOffset(), 3u);
}

}  // namespace
}  // namespace broker::kafka
