// Record batches v2: what a producer sends decodes to the same records (null vs empty keys and
// values, repeated headers, empty header values; uncompressed and gzip), and every malformed batch
// is refused whole with Kafka's error code.
#include "kafka/record_batch.h"

#include <gtest/gtest.h>

#include "kafka/crc32c.h"

namespace broker::kafka {
namespace {

constexpr size_t kLimit = 1 << 20;

std::vector<KafkaRecord> Sample() {
  return {
      {.key = std::string("k"), .value = std::string("v"), .headers = {{"h", "1"}, {"h", "2"}}},
      {.key = std::nullopt, .value = std::string("no key"), .headers = {}},
      {.key = std::string(), .value = std::string(), .headers = {{"empty", ""}}},
      {.key = std::string("tombstone"), .value = std::nullopt, .headers = {}},
  };
}

// Re-stamps the CRC after a test changed bytes it covers.
void FixCrc(std::string& batch) {
  const uint32_t crc = Crc32c(std::string_view(batch).substr(21));
  for (int i = 0; i < 4; ++i) batch[17 + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
}

TEST(RecordBatchTest, UncompressedBatchRoundTrips) {
  DecodedBatch decoded = DecodeProduceBatch(EncodeProducerBatch(Sample(), false), kLimit);
  ASSERT_EQ(decoded.error, ErrorCode::kNone) << decoded.error_message;
  EXPECT_EQ(decoded.records, Sample());
}

TEST(RecordBatchTest, GzipBatchRoundTrips) {
  DecodedBatch decoded = DecodeProduceBatch(EncodeProducerBatch(Sample(), true), kLimit);
  ASSERT_EQ(decoded.error, ErrorCode::kNone) << decoded.error_message;
  EXPECT_EQ(decoded.records, Sample());
}

TEST(RecordBatchTest, WrongCrcIsCorruptMessage) {
  std::string batch = EncodeProducerBatch(Sample(), false);
  batch.back() ^= 1;
  EXPECT_EQ(DecodeProduceBatch(batch, kLimit).error, ErrorCode::kCorruptMessage);
}

TEST(RecordBatchTest, EveryTruncationIsRefused) {
  const std::string batch = EncodeProducerBatch(Sample(), false);
  for (size_t n = 0; n < batch.size(); ++n) {
    EXPECT_NE(DecodeProduceBatch(batch.substr(0, n), kLimit).error, ErrorCode::kNone) << n;
  }
}

TEST(RecordBatchTest, LengthFieldDisagreeingWithTheBytesIsCorrupt) {
  std::string batch = EncodeProducerBatch(Sample(), false);
  batch[11] = static_cast<char>(batch[11] + 1);  // batchLength one too large
  EXPECT_EQ(DecodeProduceBatch(batch, kLimit).error, ErrorCode::kCorruptMessage);
}

TEST(RecordBatchTest, OldMagicIsUnsupportedForMessageFormat) {
  std::string batch = EncodeProducerBatch(Sample(), false);
  batch[16] = 1;
  EXPECT_EQ(DecodeProduceBatch(batch, kLimit).error, ErrorCode::kUnsupportedForMessageFormat);
}

TEST(RecordBatchTest, OtherCompressionCodecsAreUnsupported) {
  for (char codec : {2, 3, 4}) {  // snappy, lz4, zstd
    std::string batch = EncodeProducerBatch(Sample(), false);
    batch[22] = static_cast<char>((batch[22] & ~0x07) | codec);  // attributes, low byte
    FixCrc(batch);
    EXPECT_EQ(DecodeProduceBatch(batch, kLimit).error, ErrorCode::kUnsupportedCompressionType)
        << static_cast<int>(codec);
  }
}

TEST(RecordBatchTest, TransactionalBatchIsRefused) {
  std::string batch = EncodeProducerBatch(Sample(), false);
  batch[22] = static_cast<char>(batch[22] | 0x10);
  FixCrc(batch);
  EXPECT_EQ(DecodeProduceBatch(batch, kLimit).error, ErrorCode::kInvalidRecord);
}

TEST(RecordBatchTest, TwoBatchesInOnePartitionAreRefused) {
  const std::string one = EncodeProducerBatch(Sample(), false);
  EXPECT_EQ(DecodeProduceBatch(one + one, kLimit).error, ErrorCode::kInvalidRecord);
}

TEST(RecordBatchTest, RecordCountLargerThanTheRecordsIsCorrupt) {
  std::string batch = EncodeProducerBatch(Sample(), false);
  batch[60] = static_cast<char>(batch[60] + 1);  // recordCount
  batch[26] = static_cast<char>(batch[26] + 1);  // lastOffsetDelta, to match it
  FixCrc(batch);
  EXPECT_EQ(DecodeProduceBatch(batch, kLimit).error, ErrorCode::kCorruptMessage);
}

TEST(RecordBatchTest, GzipInflatingPastTheLimitIsRefused) {
  std::vector<KafkaRecord> big = {
      {.key = std::nullopt, .value = std::string(100000, 'x'), .headers = {}}};
  EXPECT_EQ(DecodeProduceBatch(EncodeProducerBatch(big, true), 1000).error,
            ErrorCode::kRecordListTooLarge);
}

TEST(RecordBatchTest, ServedBatchCarriesLogAppendTimeAndOffsets) {
  const Headers headers = {{"a", ""}, {"a", "x"}, {"hidden", ""}};
  std::vector<OutRecord> records = {
      {.offset = 41, .key = std::nullopt, .value = "v", .headers = &headers, .header_count = 2},
      {.offset = 42, .key = "", .value = std::nullopt, .headers = nullptr, .header_count = 0}};
  Writer w;
  AppendBatch(w, 1234, records);
  const std::string batch = w.data();
  Reader r(batch);
  EXPECT_EQ(r.Int64(), 41);  // baseOffset
  r.Int32();
  r.Int32();
  r.Int8();
  r.Int32();
  EXPECT_EQ(r.Int16() & 0x08, 0x08);  // LogAppendTime
  EXPECT_EQ(r.Int32(), 1);            // lastOffsetDelta
  EXPECT_EQ(r.Int64(), 1234);
  EXPECT_EQ(r.Int64(), 1234);
  // The same bytes parse as a batch (CRC and lengths right), with the records as given.
  DecodedBatch decoded = DecodeProduceBatch(batch, kLimit);
  ASSERT_EQ(decoded.error, ErrorCode::kNone) << decoded.error_message;
  ASSERT_EQ(decoded.records.size(), 2u);
  EXPECT_EQ(decoded.records[0],
            (KafkaRecord{std::nullopt, std::string("v"), {{"a", ""}, {"a", "x"}}}));
  EXPECT_EQ(decoded.records[1], (KafkaRecord{std::string(), std::nullopt, {}}));
}

}  // namespace
}  // namespace broker::kafka
