// Key layout (docs/storage_format.md): fixed widths, big-endian, so byte order is numeric order
// and one partition is one contiguous key range.
#include "storage/keys.h"

#include <gtest/gtest.h>

#include <string>

namespace broker::storage {
namespace {

TEST(KeysTest, LogKeyIsBigEndianTopicPartitionOffset) {
  const std::string key = LogKey(TopicId(0x01020304), PartitionId(0x05060708),
                                 Offset(0x090a0b0c0d0e0f10));
  EXPECT_EQ(key, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
                             kLogKeySize));
}

TEST(KeysTest, LogKeyRoundTrips) {
  LogKeyParts parts;
  ASSERT_TRUE(DecodeLogKey(LogKey(TopicId(7), PartitionId(3), Offset(123456789012ULL)), parts));
  EXPECT_EQ(parts.topic, TopicId(7));
  EXPECT_EQ(parts.partition, PartitionId(3));
  EXPECT_EQ(parts.base_offset, Offset(123456789012ULL));

  ASSERT_TRUE(DecodeLogKey(LogKey(TopicId(UINT32_MAX), PartitionId(UINT32_MAX),
                                  Offset(UINT64_MAX)), parts));
  EXPECT_EQ(parts.topic, TopicId(UINT32_MAX));
  EXPECT_EQ(parts.partition, PartitionId(UINT32_MAX));
  EXPECT_EQ(parts.base_offset, Offset(UINT64_MAX));
}

TEST(KeysTest, DecodeLogKeyRejectsWrongLengths) {
  const std::string key = LogKey(TopicId(1), PartitionId(2), Offset(3));
  LogKeyParts parts;
  EXPECT_FALSE(DecodeLogKey("", parts));
  EXPECT_FALSE(DecodeLogKey(key.substr(0, kLogKeySize - 1), parts));
  EXPECT_FALSE(DecodeLogKey(key + "x", parts));
}

TEST(KeysTest, ByteOrderEqualsNumericOrder) {
  // Offsets that differ in a low byte only and across a byte boundary.
  EXPECT_LT(LogKey(TopicId(1), PartitionId(0), Offset(255)),
            LogKey(TopicId(1), PartitionId(0), Offset(256)));
  EXPECT_LT(LogKey(TopicId(1), PartitionId(0), Offset(UINT64_MAX)),
            LogKey(TopicId(1), PartitionId(1), Offset(0)));
  EXPECT_LT(LogKey(TopicId(1), PartitionId(UINT32_MAX), Offset(UINT64_MAX)),
            LogKey(TopicId(2), PartitionId(0), Offset(0)));
  EXPECT_LT(TopicPrefix(TopicId(0xff)), TopicPrefix(TopicId(0x100)));
}

TEST(KeysTest, PrefixesArePrefixesOfLogKeys) {
  const std::string key = LogKey(TopicId(9), PartitionId(4), Offset(77));
  EXPECT_EQ(PartitionPrefix(TopicId(9), PartitionId(4)), key.substr(0, 8));
  EXPECT_EQ(TopicPrefix(TopicId(9)), key.substr(0, 4));
  EXPECT_NE(PartitionPrefix(TopicId(9), PartitionId(5)), key.substr(0, 8));
}

TEST(KeysTest, MetaAndDedupeKeys) {
  EXPECT_EQ(TopicMetaKey("orders"), "t/orders");
  EXPECT_EQ(PartitionMetaKey(TopicId(1), PartitionId(2)),
            std::string("p/\x00\x00\x00\x01\x00\x00\x00\x02", 10));
  EXPECT_EQ(DedupeKey(TopicId(3), "abc"), std::string("\x00\x00\x00\x03" "abc", 7));
  // Every dedupe key of a topic lies in its topic prefix range, so deleting the topic removes them.
  EXPECT_EQ(DedupeKey(TopicId(3), "abc").substr(0, 4), TopicPrefix(TopicId(3)));
}

}  // namespace
}  // namespace broker::storage
