// The wire primitives: varints, strings and arrays, and that a short or hostile input fails
// instead of reading past the end or allocating what its counts claim.
#include "kafka/wire.h"

#include <gtest/gtest.h>

#include "kafka/crc32c.h"

namespace broker::kafka {
namespace {

TEST(WireTest, VarintsRoundTripAtTheirBoundaries) {
  const std::vector<int64_t> values = {0,   1,         -1,        63,        -64,      64,
                                       -65, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
  Writer w;
  for (int64_t v : values) w.Varlong(v);
  Reader r(w.data());
  for (int64_t v : values) EXPECT_EQ(r.Varlong(), v);
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(r.remaining(), 0u);
  for (int64_t v : values) {
    Writer one;
    one.Varlong(v);
    EXPECT_EQ(one.size(), VarintSize(v)) << v;
  }
}

TEST(WireTest, ZigZagEncodingIsKafkas) {
  Writer w;
  w.Varint(-1);
  w.Varint(1);
  w.Varint(300);
  EXPECT_EQ(w.data(), std::string("\x01\x02\xd8\x04", 4));
}

TEST(WireTest, ReadingPastTheEndFailsAndReturnsZero) {
  Reader r(std::string_view("\x00\x05", 2));
  EXPECT_EQ(r.Int16(), 5);
  EXPECT_EQ(r.Int32(), 0);
  EXPECT_TRUE(r.failed());
  EXPECT_EQ(r.Int8(), 0);
}

TEST(WireTest, StringsKeepNullDistinctFromEmpty) {
  Writer w;
  w.NullableString(std::nullopt);
  w.NullableString(std::string());
  w.String("abc");
  Reader r(w.data());
  EXPECT_EQ(r.NullableString(), std::nullopt);
  EXPECT_EQ(r.NullableString(), std::optional<std::string>(""));
  EXPECT_EQ(r.String(), "abc");
  EXPECT_FALSE(r.failed());
}

TEST(WireTest, NonNullableStringRefusesNull) {
  Writer w;
  w.NullableString(std::nullopt);
  Reader r(w.data());
  r.String();
  EXPECT_TRUE(r.failed());
}

TEST(WireTest, StringLongerThanInputFails) {
  Reader r(
      std::string_view("\x00\x10"
                       "ab",
                       4));
  r.String();
  EXPECT_TRUE(r.failed());
}

TEST(WireTest, HostileArrayCountFailsBeforeAllocating) {
  Writer w;
  w.Int32(INT32_MAX);
  Reader r(w.data());
  EXPECT_EQ(r.ArrayLength(4), 0);
  EXPECT_TRUE(r.failed());
}

TEST(WireTest, OverlongVarintFails) {
  const std::string overlong(11, '\xff');
  Reader r(overlong);
  r.Varlong();
  EXPECT_TRUE(r.failed());
}

TEST(WireTest, CompactStringsAndTaggedFields) {
  Writer w;
  w.CompactString("name");
  w.UnsignedVarint(1);  // one tagged field
  w.UnsignedVarint(5);  // its tag
  w.UnsignedVarint(3);  // its size
  w.Raw("abc");
  w.Int8(9);
  Reader r(w.data());
  EXPECT_EQ(r.CompactString(), "name");
  r.SkipTaggedFields();
  EXPECT_EQ(r.Int8(), 9);
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

}  // namespace
}  // namespace broker::kafka
