// Values of the meta and dedupe column families: topic, partition and dedupe records.
#include "storage/topic_meta.h"

#include <gtest/gtest.h>

#include <string>

namespace broker::storage {
namespace {

TimePoint Micros(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

// Every strict prefix and every one-byte extension of `value` must be rejected by `decode`.
template <typename Record, typename Decode>
void ExpectLengthChangesRejected(const std::string& value, Decode decode) {
  for (size_t len = 0; len < value.size(); ++len) {
    Record out;
    EXPECT_FALSE(decode(std::string_view(value).substr(0, len), out)) << "prefix of " << len;
  }
  Record out;
  EXPECT_FALSE(decode(value + '\0', out)) << "one byte longer";
}

TEST(TopicMetaTest, TopicRecordRoundTrips) {
  const TopicRecord record{
      .id = TopicId(42),
      .config = {.partitions = 12,
                 .retention_age = std::chrono::hours(24 * 7),
                 .retention_bytes = uint64_t{5} << 30,
                 .max_message_bytes = 65536},
      .created_at = Micros(1767225600000001)};
  TopicRecord out;
  ASSERT_TRUE(DecodeTopicRecord(EncodeTopicRecord(record), out));
  EXPECT_EQ(out.id, record.id);
  EXPECT_EQ(out.config, record.config);
  EXPECT_EQ(out.created_at, record.created_at);
}

TEST(TopicMetaTest, TopicRecordOfWrongLengthIsRejected) {
  const std::string value = EncodeTopicRecord({.id = TopicId(1), .config = {}, .created_at = {}});
  ExpectLengthChangesRejected<TopicRecord>(value, DecodeTopicRecord);
}

TEST(TopicMetaTest, TopicRecordOfUnknownVersionIsRejected) {
  std::string value = EncodeTopicRecord({.id = TopicId(1), .config = {}, .created_at = {}});
  value[0] = 3;  // record version, little-endian u32
  TopicRecord out;
  EXPECT_FALSE(DecodeTopicRecord(value, out));
}

TEST(TopicMetaTest, InterestRetentionRoundTrips) {
  const TopicRecord record{
      .id = TopicId(7),
      .config = {.retention = RetentionPolicy::kInterest, .max_bytes = uint64_t{3} << 30},
      .created_at = Micros(5)};
  TopicRecord out;
  ASSERT_TRUE(DecodeTopicRecord(EncodeTopicRecord(record), out));
  EXPECT_EQ(out.config, record.config);
}

// Written before interest retention existed: version 1, without the policy and the cap.
TEST(TopicMetaTest, VersionOneReadsAsLimitsWithoutCap) {
  const TopicRecord record{.id = TopicId(3),
                           .config = {.partitions = 2, .retention_bytes = 100},
                           .created_at = Micros(9)};
  std::string value = EncodeTopicRecord(record);
  value.resize(value.size() - 12);  // policy:u32 | max_bytes:u64
  value[0] = 1;
  TopicRecord out;
  out.config.max_bytes = 77;
  ASSERT_TRUE(DecodeTopicRecord(value, out));
  EXPECT_EQ(out.config, record.config);
  EXPECT_EQ(out.config.retention, RetentionPolicy::kLimits);
}

TEST(TopicMetaTest, UnknownRetentionPolicyIsRejected) {
  std::string value = EncodeTopicRecord({.id = TopicId(1), .config = {}, .created_at = {}});
  value[value.size() - 12] = 2;  // policy, little-endian u32
  TopicRecord out;
  EXPECT_FALSE(DecodeTopicRecord(value, out));
}

TEST(TopicMetaTest, PartitionRecordRoundTrips) {
  const PartitionRecord record{.first_offset = Offset(10), .end_offset = Offset(uint64_t{1} << 50),
                               .bytes = 999};
  PartitionRecord out;
  ASSERT_TRUE(DecodePartitionRecord(EncodePartitionRecord(record), out));
  EXPECT_EQ(out, record);

  const PartitionRecord empty{};
  ASSERT_TRUE(DecodePartitionRecord(EncodePartitionRecord(empty), out));
  EXPECT_EQ(out, empty);
}

TEST(TopicMetaTest, PartitionRecordOfWrongLengthIsRejected) {
  const std::string value = EncodePartitionRecord({Offset(1), Offset(2), 3});
  ExpectLengthChangesRejected<PartitionRecord>(value, DecodePartitionRecord);
}

TEST(TopicMetaTest, PartitionRecordWithFirstAfterEndIsRejected) {
  PartitionRecord out;
  EXPECT_FALSE(DecodePartitionRecord(EncodePartitionRecord({Offset(5), Offset(4), 0}), out));
  EXPECT_TRUE(DecodePartitionRecord(EncodePartitionRecord({Offset(4), Offset(4), 0}), out));
}

TEST(TopicMetaTest, DedupeRecordRoundTrips) {
  const DedupeRecord record{.partition = PartitionId(4095), .offset = Offset(123456789),
                            .first_seen = Micros(1767225600999999)};
  DedupeRecord out;
  ASSERT_TRUE(DecodeDedupeRecord(EncodeDedupeRecord(record), out));
  EXPECT_EQ(out.partition, record.partition);
  EXPECT_EQ(out.offset, record.offset);
  EXPECT_EQ(out.first_seen, record.first_seen);
}

TEST(TopicMetaTest, DedupeRecordOfWrongLengthIsRejected) {
  const std::string value = EncodeDedupeRecord({PartitionId(1), Offset(2), Micros(3)});
  ExpectLengthChangesRejected<DedupeRecord>(value, DecodeDedupeRecord);
}

}  // namespace
}  // namespace broker::storage
