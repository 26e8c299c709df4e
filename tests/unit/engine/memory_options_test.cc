// The memory bounds of broker::Options reach RocksDB as StorageDb opens it: the block cache size
// (one cache shared by every column family), the memtable sizes and the overall memtable budget,
// read back from what the open DB reports.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/table.h>

#include <string>

#include "engine_test_util.h"
#include "storage/storage_db.h"

namespace broker {
namespace {

using ::broker::testing::DiskOptions;
using ::broker::testing::FakeClock;
using ::broker::testing::ScopedTempDir;

class MemoryOptionsTest : public ::testing::Test {
 protected:
  std::unique_ptr<storage::StorageDb> Open(const Options& options) {
    auto opened = storage::StorageDb::Open(options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  std::vector<rocksdb::ColumnFamilyHandle*> Families(const storage::StorageDb& db) {
    return {db.db()->DefaultColumnFamily(),
            db.log(),
            db.log_index(),
            db.meta(),
            db.dedupe(),
            db.groups()};
  }

  uint64_t BlockCacheCapacity(const storage::StorageDb& db, rocksdb::ColumnFamilyHandle* cf) {
    uint64_t capacity = 0;
    EXPECT_TRUE(
        db.db()->GetIntProperty(cf, rocksdb::DB::Properties::kBlockCacheCapacity, &capacity))
        << cf->GetName();
    return capacity;
  }

  ScopedTempDir dir_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

TEST_F(MemoryOptionsTest, DefaultsAreOneSixteenMibBlockCacheAndNoOverallMemtableBudget) {
  const Options defaults;
  EXPECT_EQ(defaults.block_cache_bytes, size_t{16} << 20);
  EXPECT_EQ(defaults.memtable_budget_bytes, 0u);
  auto db = Open(DiskOptions(dir_, clock_));
  ASSERT_NE(db, nullptr);
  for (auto* cf : Families(*db)) EXPECT_EQ(BlockCacheCapacity(*db, cf), 16u << 20) << cf->GetName();
  EXPECT_EQ(db->db()->GetDBOptions().db_write_buffer_size, 0u);
}

TEST_F(MemoryOptionsTest, BlockCacheSizeIsOneCacheSharedByEveryColumnFamily) {
  Options options = DiskOptions(dir_, clock_);
  options.block_cache_bytes = size_t{5} << 20;
  auto db = Open(options);
  ASSERT_NE(db, nullptr);
  for (auto* cf : Families(*db)) EXPECT_EQ(BlockCacheCapacity(*db, cf), 5u << 20) << cf->GetName();
  // One cache, not one per family: every family reports the same cache object's capacity and
  // table options point at the same cache.
  const auto* log_table =
      db->db()->GetOptions(db->log()).table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
  const auto* groups_table = db->db()
                                 ->GetOptions(db->groups())
                                 .table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
  ASSERT_NE(log_table, nullptr);
  ASSERT_NE(groups_table, nullptr);
  EXPECT_EQ(log_table->block_cache.get(), groups_table->block_cache.get());
}

TEST_F(MemoryOptionsTest, ZeroBlockCacheMeansNone) {
  Options options = DiskOptions(dir_, clock_);
  options.block_cache_bytes = 0;
  auto db = Open(options);
  ASSERT_NE(db, nullptr);
  const auto* table =
      db->db()->GetOptions(db->log()).table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
  ASSERT_NE(table, nullptr);
  EXPECT_TRUE(table->no_block_cache);
  EXPECT_EQ(table->block_cache, nullptr);
}

TEST_F(MemoryOptionsTest, MemtableSizesAndBudgetReachRocksDb) {
  Options options = DiskOptions(dir_, clock_);
  options.write_buffer_bytes = size_t{32} << 20;
  options.memtable_budget_bytes = size_t{48} << 20;
  auto db = Open(options);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->db()->GetDBOptions().db_write_buffer_size, 48u << 20);
  EXPECT_EQ(db->db()->GetOptions(db->log()).write_buffer_size, 32u << 20);
  // The other families take at most 16 MiB each.
  EXPECT_EQ(db->db()->GetOptions(db->groups()).write_buffer_size, 16u << 20);
  EXPECT_EQ(db->db()->GetOptions(db->meta()).write_buffer_size, 16u << 20);
}

}  // namespace
}  // namespace broker
