// StorageDb: the RocksDB instance with its column families (docs/storage_format.md).
//
// Thread safety: constant after Open; rocksdb::DB is itself thread-safe, so the handles may be used
// from any thread. Destruction closes the DB (and then the in-memory Env, if any).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include <chrono>
#include <memory>
#include <string>

#include "broker/options.h"
#include "broker/status.h"

namespace broker::storage {

class StorageDb {
 public:
  // `env` replaces RocksDB's Env (tests inject failing file systems); nullptr = the default, or
  // the in-memory Env when options.in_memory.
  static Result<std::unique_ptr<StorageDb>> Open(const Options& options,
                                                 rocksdb::Env* env = nullptr);
  ~StorageDb();
  StorageDb(const StorageDb&) = delete;
  StorageDb& operator=(const StorageDb&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* log() const { return log_; }
  rocksdb::ColumnFamilyHandle* log_index() const { return log_index_; }
  rocksdb::ColumnFamilyHandle* meta() const { return meta_; }
  rocksdb::ColumnFamilyHandle* dedupe() const { return dedupe_; }
  // Consumer-group state, owned by broker/delivery.
  rocksdb::ColumnFamilyHandle* groups() const { return groups_; }

  // True from a RocksDB background error (a failed write stops writes) until writes are let in
  // again: by Resume(), or by RocksDB's own recovery from a full disk (ErrorListener).
  bool needs_resume() const;
  // Lets writes in again after a write error once its cause is gone (DB::Resume()). After a full
  // disk, RocksDB recovers by itself once space returns; until then this returns NoSpace saying
  // why writes are refused. Only by the holder of the log writer's commit turn (LogWriter).
  rocksdb::Status Resume();
  // True while writes are refused for a full disk that RocksDB recovers from by itself (from the
  // failed write until space returns and RocksDB has resumed). Any thread.
  bool recovering_from_full_disk() const;
  // Blocks until no full-disk recovery is in progress (at once if none is) or `timeout` passes;
  // returns whether writes are taken again: false too if the recovery ended with writes still
  // stopped (another error, left to the writer's Resume()). Any thread.
  bool WaitForFullDiskRecovery(std::chrono::milliseconds timeout) const;

  // A RocksDB checkpoint of the whole DB in `dir` (Broker::Checkpoint); returns its size in bytes.
  // Any thread: RocksDB checkpoints run alongside writes.
  Result<uint64_t> Checkpoint(const std::string& dir) const;
  // Flushes every column family (so the write-ahead log files holding the range can be deleted),
  // then compacts the log and log_index key range [begin, end) that retention deleted, so the
  // files holding it are rewritten without it and its disk space returns now rather than whenever
  // RocksDB's own compactions reach it. Blocks for the compaction: call it from a background
  // thread, never the writer thread, an I/O thread or a gRPC reaction.
  Status CompactDeletedRange(const std::string& begin, const std::string& end) const;

 private:
  class ErrorListener;
  StorageDb() = default;
  std::shared_ptr<ErrorListener> error_listener_;
  std::unique_ptr<rocksdb::Env> mem_env_;  // only in in_memory mode; outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_index_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* dedupe_ = nullptr;
  rocksdb::ColumnFamilyHandle* groups_ = nullptr;
};

}  // namespace broker::storage
