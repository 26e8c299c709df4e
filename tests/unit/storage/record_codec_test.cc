// Record batches (log CF values) and their index entries (log_index CF values).
#include "storage/record_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace broker::storage {
namespace {

TimePoint Micros(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

TEST(RecordCodecTest, SealedValueMatchesFinishAndResetStartsAnEmptyBatchInTheSameBuffer) {
  Message a{.key = "k1", .payload = std::string(300, 'a')};
  Message b{.payload = "second"};
  BatchEncoder reference;
  reference.Add(a, Micros(10));
  const std::string finished = reference.Finish();

  BatchEncoder encoder;
  encoder.Add(a, Micros(10));
  EXPECT_EQ(encoder.Seal(), finished);
  const size_t capacity = encoder.capacity();
  encoder.Reset();
  EXPECT_EQ(encoder.count(), 0u);
  EXPECT_EQ(encoder.max_timestamp(), TimePoint{});
  EXPECT_EQ(encoder.capacity(), capacity);  // the buffer is kept for the next batch

  encoder.Add(b, Micros(5));
  BatchDecoder decoder(encoder.Seal());
  ASSERT_EQ(decoder.count(), 1u);  // nothing of the first batch is left
  RecordView view;
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_FALSE(view.has_key);
  EXPECT_EQ(view.payload, "second");
  EXPECT_EQ(view.timestamp, Micros(5));
  EXPECT_FALSE(decoder.Next(view));
  EXPECT_FALSE(decoder.corrupt());
}

TEST(RecordCodecTest, RoundTripsRecordsWithAndWithoutKeys) {
  BatchEncoder encoder;
  Message a{.key = "k1", .payload = "hello", .headers = {{"h", "v"}, {"h", "w"}}};
  Message b{.payload = std::string("\0bin\xff", 5)};
  encoder.Add(a, Micros(10));
  encoder.Add(b, Micros(20));
  EXPECT_EQ(encoder.max_timestamp(), Micros(20));
  const std::string value = encoder.Finish();

  BatchDecoder decoder(value);
  ASSERT_EQ(decoder.count(), 2u);
  RecordView view;
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_TRUE(view.has_key);
  EXPECT_EQ(view.key, "k1");
  EXPECT_EQ(view.payload, "hello");
  EXPECT_EQ(view.timestamp, Micros(10));
  Headers headers;
  ASSERT_TRUE(DecodeHeaders(view, headers));
  EXPECT_EQ(headers, a.headers);
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_FALSE(view.has_key);
  EXPECT_EQ(view.payload, b.payload);
  EXPECT_EQ(view.timestamp, Micros(20));
  EXPECT_FALSE(decoder.Next(view));
  EXPECT_FALSE(decoder.corrupt());
}

TEST(RecordCodecTest, EmptyKeyIsDistinctFromNoKey) {
  BatchEncoder encoder;
  encoder.Add(Message{.key = "", .payload = "p"}, Micros(1));
  const std::string value = encoder.Finish();
  BatchDecoder decoder(value);
  RecordView view;
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_TRUE(view.has_key);
  EXPECT_EQ(view.key, "");
}

TEST(RecordCodecTest, AddReturnsEncodedSizesThatSumToTheValue) {
  BatchEncoder encoder;
  const size_t first = encoder.Add(Message{.key = "key", .payload = "abc"}, Micros(5));
  const size_t second =
      encoder.Add(Message{.payload = std::string(1000, 'x'), .headers = {{"n", "v"}}}, Micros(3));
  EXPECT_EQ(encoder.count(), 2u);
  // max_timestamp is the newest, not the last added.
  EXPECT_EQ(encoder.max_timestamp(), Micros(5));
  const std::string value = encoder.Finish();
  EXPECT_EQ(value.size(), 1 + 4 + first + second);  // format byte + count + records

  BatchDecoder decoder(value);
  RecordView view;
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_EQ(view.encoded_size, first);
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_EQ(view.encoded_size, second);
}

TEST(RecordCodecTest, FinishResetsTheEncoder) {
  BatchEncoder encoder;
  encoder.Add(Message{.payload = "one"}, Micros(100));
  (void)encoder.Finish();
  EXPECT_EQ(encoder.count(), 0u);
  EXPECT_EQ(encoder.max_timestamp(), TimePoint{});
  encoder.Add(Message{.payload = "two"}, Micros(1));
  const std::string value = encoder.Finish();
  BatchDecoder decoder(value);
  ASSERT_EQ(decoder.count(), 1u);
  RecordView view;
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_EQ(view.payload, "two");
}

TEST(RecordCodecTest, TruncatedValueIsReportedCorrupt) {
  BatchEncoder encoder;
  encoder.Add(Message{.payload = "payload"}, TimePoint{});
  std::string value = encoder.Finish();
  value.resize(value.size() - 3);
  BatchDecoder decoder(value);
  RecordView view;
  EXPECT_FALSE(decoder.Next(view));
  EXPECT_TRUE(decoder.corrupt());
}

TEST(RecordCodecTest, EveryTruncationIsReportedCorrupt) {
  BatchEncoder encoder;
  encoder.Add(Message{.key = "k", .payload = "payload", .headers = {{"a", "b"}}}, Micros(1));
  encoder.Add(Message{.payload = "second"}, Micros(2));
  const std::string value = encoder.Finish();
  for (size_t len = 0; len < value.size(); ++len) {
    BatchDecoder decoder(std::string_view(value).substr(0, len));
    RecordView view;
    uint32_t decoded = 0;
    while (decoder.Next(view)) ++decoded;
    EXPECT_TRUE(decoder.corrupt()) << "truncated to " << len << " bytes";
    EXPECT_LT(decoded, 2u) << "truncated to " << len << " bytes";
  }
}

TEST(RecordCodecTest, UnknownFormatIsCorrupt) {
  BatchEncoder encoder;
  encoder.Add(Message{.payload = "p"}, Micros(1));
  std::string value = encoder.Finish();
  value[0] = static_cast<char>(kBatchFormat + 1);
  BatchDecoder decoder(value);
  EXPECT_TRUE(decoder.corrupt());
  EXPECT_EQ(decoder.count(), 0u);
  RecordView view;
  EXPECT_FALSE(decoder.Next(view));
}

TEST(RecordCodecTest, CountLargerThanRecordsIsCorrupt) {
  BatchEncoder encoder;
  encoder.Add(Message{.payload = "p"}, Micros(1));
  std::string value = encoder.Finish();
  value[1] = 2;  // count, little-endian: claims two records, holds one
  BatchDecoder decoder(value);
  RecordView view;
  EXPECT_TRUE(decoder.Next(view));
  EXPECT_FALSE(decoder.Next(view));
  EXPECT_TRUE(decoder.corrupt());
}

TEST(RecordCodecTest, HugeLengthPrefixIsCorruptNotAnOverread) {
  BatchEncoder encoder;
  encoder.Add(Message{.payload = "abcd"}, Micros(1));
  std::string value = encoder.Finish();
  // The payload's u32 length prefix sits 8 bytes before the end (4-byte prefix + 4 bytes).
  const size_t prefix = value.size() - 8;
  for (int i = 0; i < 4; ++i) value[prefix + i] = '\xff';
  BatchDecoder decoder(value);
  RecordView view;
  EXPECT_FALSE(decoder.Next(view));
  EXPECT_TRUE(decoder.corrupt());
}

TEST(RecordCodecTest, DecodeHeadersRejectsTruncatedHeaderData) {
  BatchEncoder encoder;
  encoder.Add(Message{.payload = "p", .headers = {{"name", "value"}}}, Micros(1));
  const std::string value = encoder.Finish();
  BatchDecoder decoder(value);
  RecordView view;
  ASSERT_TRUE(decoder.Next(view));
  Headers headers;
  ASSERT_TRUE(DecodeHeaders(view, headers));
  view.headers_data = view.headers_data.substr(0, view.headers_data.size() - 1);
  EXPECT_FALSE(DecodeHeaders(view, headers));
  // Trailing bytes that no header accounts for are corruption too.
  std::string longer(view.headers_data);
  longer += "extra!";
  view.headers_data = longer;
  EXPECT_FALSE(DecodeHeaders(view, headers));
}

TEST(RecordCodecTest, IndexEntryRoundTrips) {
  const BatchIndexEntry entry{.count = 17, .bytes = (uint64_t{1} << 40) + 3,
                              .max_timestamp = Micros(1767225600123456)};
  const std::string value = EncodeIndexEntry(entry);
  EXPECT_EQ(value.size(), 20u);
  BatchIndexEntry out;
  ASSERT_TRUE(DecodeIndexEntry(value, out));
  EXPECT_EQ(out.count, entry.count);
  EXPECT_EQ(out.bytes, entry.bytes);
  EXPECT_EQ(out.max_timestamp, entry.max_timestamp);
}

TEST(RecordCodecTest, IndexEntryOfWrongSizeIsRejected) {
  const std::string value = EncodeIndexEntry({.count = 1, .bytes = 2, .max_timestamp = Micros(3)});
  BatchIndexEntry out;
  EXPECT_FALSE(DecodeIndexEntry("", out));
  EXPECT_FALSE(DecodeIndexEntry(value.substr(0, value.size() - 1), out));
  EXPECT_FALSE(DecodeIndexEntry(value + "x", out));
}

TEST(RecordCodecTest, MessageSizeCountsKeyPayloadAndHeaders) {
  EXPECT_EQ(MessageSize(Message{.payload = "12345"}), 5u);
  EXPECT_EQ(MessageSize(Message{.key = "ab", .payload = "12345", .headers = {{"n", "vv"}}}),
            2u + 5u + 3u);
  EXPECT_EQ(HeaderBytes({{"a", "b"}, {"cc", ""}}), 4u);
  EXPECT_EQ(MessageSize(Message{.payload = "x", .idempotency_key = "not counted"}), 1u);
}

}  // namespace
}  // namespace broker::storage
