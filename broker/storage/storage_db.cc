#include "storage/storage_db.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include "storage/rocks_status.h"

namespace broker::storage {

StorageDb::~StorageDb() {
  if (db_) {
    for (auto* handle : {default_, log_, log_index_, meta_, dedupe_, groups_}) {
      if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  mem_env_.reset();
}

Result<std::unique_ptr<StorageDb>> StorageDb::Open(const Options& options, rocksdb::Env* env) {
  std::unique_ptr<StorageDb> store(new StorageDb());

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  // The writer thread is the only writer of the log; RocksDB's own write queue then costs nothing.
  db_options.enable_pipelined_write = false;
  if (env != nullptr) {
    db_options.env = env;
  } else if (options.in_memory) {
    store->mem_env_.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_options.env = store->mem_env_.get();
  }
  if (!options.in_memory) {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return Status::Unavailable("cannot create data directory '" + options.data_dir +
                                 "': " + ec.message());
    }
  }

  rocksdb::ColumnFamilyOptions log_options;
  log_options.write_buffer_size = options.write_buffer_bytes;
  // Payloads are often already compressed or small; LZ4 is cheap where it helps.
  log_options.compression = rocksdb::kLZ4Compression;
  rocksdb::ColumnFamilyOptions small_options;
  small_options.write_buffer_size = std::min<size_t>(options.write_buffer_bytes, 16 << 20);

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {"log", log_options},
      {"log_index", small_options},
      {"meta", small_options},
      {"dedupe", small_options},
      {"groups", small_options},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  // RocksDB's in-memory file system accepts only absolute paths ("Not implemented:
  // GetAbsolutePath" otherwise); in memory the directory is only a name, so anchor it at "/".
  std::string path = options.data_dir;
  if (store->mem_env_ && !path.starts_with('/')) path.insert(0, "/");
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, families, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "opening data directory '" + options.data_dir + "'");
  store->db_.reset(raw);
  store->default_ = handles[0];
  store->log_ = handles[1];
  store->log_index_ = handles[2];
  store->meta_ = handles[3];
  store->dedupe_ = handles[4];
  store->groups_ = handles[5];
  return store;
}

}  // namespace broker::storage
