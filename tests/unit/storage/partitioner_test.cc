// The key -> partition mapping is part of the on-disk contract: a topic's existing records were
// placed with it, so it must never change. These values were recorded from XXH64 (seed 0); if
// this test fails, the hash changed and keyed ordering of existing topics would break.
#include "storage/partitioner.h"

#include <gtest/gtest.h>

#include <string>

namespace broker::storage {
namespace {

struct Case {
  std::string key;
  uint32_t partitions;
  uint32_t expected;
};

TEST(PartitionerTest, FixedKeysMapToRecordedPartitions) {
  const Case cases[] = {
      {"", 3, 0},           {"", 12, 9},           {"", 16, 9},
      {"a", 3, 2},          {"a", 12, 11},         {"a", 16, 11},
      {"abc", 3, 0},        {"abc", 12, 9},        {"abc", 16, 9},
      {"customer-42", 3, 2}, {"customer-42", 12, 11}, {"customer-42", 16, 15},
      {"customer-42", 4096, 3087},
      {"order-1001", 3, 2}, {"order-1001", 12, 8},  {"order-1001", 16, 12},
      {"order-1001", 4096, 2764},
      {"user:7", 3, 0},     {"user:7", 12, 3},      {"user:7", 16, 15},
      {"user:7", 4096, 79},
      {std::string("\0\xff", 2), 3, 2}, {std::string("\0\xff", 2), 12, 5},
      {std::string("\0\xff", 2), 16, 13}, {std::string("\0\xff", 2), 4096, 3453},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PartitionForKey(c.key, c.partitions), PartitionId(c.expected))
        << "key of " << c.key.size() << " bytes '" << c.key << "', " << c.partitions
        << " partitions";
  }
}

TEST(PartitionerTest, IsXxh64Seed0ModuloPartitions) {
  // Published XXH64 test vectors: XXH64("", 0) and XXH64("abc", 0).
  constexpr uint64_t kEmpty = 0xEF46DB3751D8E999ULL;
  constexpr uint64_t kAbc = 0x44BC2CF5AD770999ULL;
  for (uint32_t n : {1u, 2u, 7u, 100u, 4096u}) {
    EXPECT_EQ(PartitionForKey("", n), PartitionId(static_cast<uint32_t>(kEmpty % n)));
    EXPECT_EQ(PartitionForKey("abc", n), PartitionId(static_cast<uint32_t>(kAbc % n)));
  }
}

TEST(PartitionerTest, OnePartitionAlwaysMapsToZero) {
  for (const char* key : {"", "x", "customer-42", "another key"}) {
    EXPECT_EQ(PartitionForKey(key, 1), PartitionId(0));
  }
}

TEST(PartitionerTest, SpreadsDistinctKeysOverAllPartitions) {
  constexpr uint32_t kPartitions = 8;
  int hits[kPartitions] = {};
  for (int i = 0; i < 800; ++i) {
    const PartitionId p = PartitionForKey("key-" + std::to_string(i), kPartitions);
    ASSERT_LT(p.value(), kPartitions);
    ++hits[p.value()];
  }
  // Deterministic for this hash; a hash that lumps keys together would fail this.
  for (uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_GT(hits[p], 50) << "partition " << p;
    EXPECT_LT(hits[p], 150) << "partition " << p;
  }
}

}  // namespace
}  // namespace broker::storage
