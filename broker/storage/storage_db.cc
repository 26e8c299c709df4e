#include "storage/storage_db.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "storage/rocks_status.h"

namespace broker::storage {

// Decides how RocksDB (7.8) handles a background error, so that a write error never takes the
// process down and a full disk recovers by itself once space returns:
// - A full disk (NoSpace) is left to RocksDB's own recovery: its SstFileManager thread checks the
//   free space (every 5 s) and resumes once there is room for a memtable. That recovery is marked
//   in progress from the moment of the error, and it has to be: while the DB is stopped with no
//   recovery in progress, a flush job that was already scheduled returns the error without taking
//   its request off the flush queue, and nothing schedules that request again; a later
//   DB::Resume() then waits for that flush forever (the writer hung so in about 1 run in 6 of
//   tests/integration/disk/full_disk_test.cc with recovery done by DB::Resume() alone; same class
//   as facebook/rocksdb#11872 and #15030). While it runs, the writer's Resume() only reports why
//   writes are refused.
// - Other errors get no automatic recovery: the writer calls Resume() before its next write, at
//   once, and reports the real cause until that succeeds.
// - A failed WAL write leaves the WAL writer broken. Resume() replaces it only by switching
//   memtables, which RocksDB 7.8 skips when every active memtable is empty (RocksDB issues #11643,
//   #12998): Resume() then "succeeds", and the next write hits the broken WAL writer, which is an
//   assertion failure (SIGABRT) in Debian's librocksdb and a permanent error elsewhere. Such an
//   error is made fatal instead: writes stay refused until the broker is reopened, reads go on.
class StorageDb::ErrorListener final : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) override {
    needs_resume_.store(true);
    if (reason != rocksdb::BackgroundErrorReason::kWriteCallback ||
        error->severity() >= rocksdb::Status::Severity::kFatalError) {
      return;
    }
    const StorageDb* store = store_.load();
    if (store == nullptr) return;  // still opening
    for (auto* handle : {store->default_, store->log_, store->log_index_, store->meta_,
                         store->dedupe_, store->groups_}) {
      uint64_t entries = 0;
      if (!store->db_->GetIntProperty(handle, rocksdb::DB::Properties::kNumEntriesActiveMemTable,
                                      &entries) ||
          entries > 0) {
        return;  // a memtable switch on Resume() will replace the WAL
      }
    }
    *error = rocksdb::Status(*error, rocksdb::Status::Severity::kFatalError);
  }

  // Called (under RocksDB's DB mutex) with the error as OnBackgroundError left it.
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status error,
                            bool* auto_recovery) override {
    *auto_recovery = *auto_recovery && error.IsNoSpace() &&
                     error.severity() < rocksdb::Status::Severity::kFatalError;
    // Stored either way: a later error that RocksDB does not recover by itself replaces the full
    // disk's, and the writer's Resume() must then handle it (waiters are told).
    {
      std::lock_guard lock(recovered_mu_);
      auto_recovering_.store(*auto_recovery);
    }
    recovered_.notify_all();
  }

  // RocksDB's own recovery ended: writes work again, or (it gave up, or another error replaced
  // the full disk's) they stay stopped and the writer's Resume() takes over, reporting the cause.
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    {
      std::lock_guard lock(recovered_mu_);
      auto_recovering_.store(false);
      needs_resume_.store(!info.new_bg_error.ok());
    }
    recovered_.notify_all();
  }

  // True once no full-disk recovery runs and no write error waits for a Resume().
  bool WaitForRecovery(std::chrono::milliseconds timeout) {
    std::unique_lock lock(recovered_mu_);
    return recovered_.wait_for(lock, timeout, [this] { return !auto_recovering_.load(); }) &&
           !needs_resume_.load();
  }

  std::atomic<const StorageDb*> store_{nullptr};  // set once the DB is open
  std::atomic<bool> needs_resume_{false};
  std::atomic<bool> auto_recovering_{false};
  // Waiters for the end of a full-disk recovery; the flags change under the mutex for them.
  std::mutex recovered_mu_;
  std::condition_variable recovered_;
};

// RocksDB's info log (<data dir>/LOG), written with plain write(2) whose errors are ignored.
// RocksDB 7.8's own info logger writes through a WritableFileWriter, which after one failed write
// (a full disk) asserts on the next log line: Debian's librocksdb keeps assertions, so a full disk
// aborted brokerd (tests/integration/disk/full_disk_test.cc). A line lost to a full disk is
// harmless.
namespace {
class InfoLog final : public rocksdb::Logger {
 public:
  // Keeps the previous run's log as LOG.old, as RocksDB does (one generation only).
  static std::shared_ptr<InfoLog> Open(const std::string& data_dir) {
    const std::string path = data_dir + "/LOG";
    std::error_code ec;
    std::filesystem::rename(path, path + ".old", ec);
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return nullptr;
    return std::shared_ptr<InfoLog>(new InfoLog(fd));
  }
  ~InfoLog() override { CloseImpl().PermitUncheckedError(); }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[4096];
    timeval now{};
    ::gettimeofday(&now, nullptr);
    tm t{};
    ::localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<long>(now.tv_usec));
    va_list copy;
    va_copy(copy, ap);
    const int body =
        std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n) - 1, format, copy);
    va_end(copy);
    if (body < 0) return;
    n = std::min<int>(n + body, static_cast<int>(sizeof(line)) - 2);
    if (line[n - 1] != '\n') line[n++] = '\n';
    if (fd_ >= 0) (void)!::write(fd_, line, static_cast<size_t>(n));
  }

 protected:
  rocksdb::Status CloseImpl() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return rocksdb::Status::OK();
  }

 private:
  explicit InfoLog(int fd) : fd_(fd) {}
  int fd_;
};
}  // namespace

Status StorageDb::CompactDeletedRange(const std::string& begin, const std::string& end) const {
  rocksdb::CompactRangeOptions options;
  // The bottommost files hold the old records: without this they would be left as they are.
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  // A write-ahead log file stays until every column family with data in it has flushed. Group and
  // meta state are written with every commit but fill their 16 MiB memtables slowly, so without
  // this the WAL files holding the deleted records (as large as the records) would outlive them.
  rocksdb::FlushOptions flush;
  flush.allow_write_stall = true;
  if (rocksdb::Status s = db_->Flush(flush, {default_, log_, log_index_, meta_, dedupe_, groups_});
      !s.ok()) {
    return FromRocks(s, "flushing before compacting deleted records");
  }
  const rocksdb::Slice b(begin), e(end);
  for (rocksdb::ColumnFamilyHandle* cf : {log_, log_index_}) {
    rocksdb::Status s = db_->CompactRange(options, cf, &b, &e);
    if (!s.ok()) return FromRocks(s, "compacting deleted records");
  }
  return Status::Ok();
}

Result<uint64_t> StorageDb::Checkpoint(const std::string& dir) const {
  const std::filesystem::path path(dir);
  if (dir.empty() || !path.is_absolute()) {
    return Status::InvalidArgument("backup directory '" + dir +
                                   "' must be an absolute path on the broker's host");
  }
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec) {
    return Status::AlreadyExists("backup directory '" + dir +
                                 "' already exists; name a new directory");
  }
  if (!std::filesystem::is_directory(path.parent_path(), ec)) {
    return Status::InvalidArgument("the parent of backup directory '" + dir +
                                   "' does not exist; create it first");
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (s.ok()) s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) return FromRocks(s, "writing a checkpoint to '" + dir + "'");
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path, ec)) {
    std::error_code size_ec;
    if (entry.is_regular_file(size_ec)) bytes += entry.file_size(size_ec);
  }
  return bytes;
}

bool StorageDb::needs_resume() const { return error_listener_->needs_resume_.load(); }

bool StorageDb::recovering_from_full_disk() const {
  return error_listener_->auto_recovering_.load();
}

bool StorageDb::WaitForFullDiskRecovery(std::chrono::milliseconds timeout) const {
  return error_listener_->WaitForRecovery(timeout);
}

rocksdb::Status StorageDb::Resume() {
  // Resume() flushes the memtables first, so it cannot succeed before the data directory's file
  // system has room for them; until then, say how much is missing instead of trying.
  struct statvfs fs {};
  uint64_t memtables = 0;
  if (::statvfs(db_->GetName().c_str(), &fs) == 0 &&
      db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables)) {
    const uint64_t available = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    const uint64_t needed = memtables + (4 << 20);  // plus room for a new WAL and the MANIFEST
    if (available < needed) {
      return rocksdb::Status::NoSpace("resuming writes needs about " +
                                      std::to_string(needed >> 20) + " MiB free to flush memory, " +
                                      std::to_string(available >> 20) + " MiB are");
    }
  }
  if (error_listener_->auto_recovering_.load()) {
    return rocksdb::Status::NoSpace(
        "space is back; RocksDB resumes writes by itself once it has flushed memory to disk "
        "(it checks every 5 s)");
  }
  rocksdb::Status s = db_->Resume();
  if (s.ok()) error_listener_->needs_resume_.store(false);
  return s;
}

StorageDb::~StorageDb() {
  if (error_listener_) error_listener_->store_.store(nullptr);
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
  store->error_listener_ = std::make_shared<ErrorListener>();
  db_options.listeners.push_back(store->error_listener_);
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
    // On the real file system only: an injected Env (tests) keeps RocksDB's logger.
    if (env == nullptr) db_options.info_log = InfoLog::Open(options.data_dir);
  }

  // Memory bounds (Options, "Memory RocksDB may hold"); 0 is "no overall bound" to RocksDB too.
  db_options.db_write_buffer_size = options.memtable_budget_bytes;
  // Disk the write-ahead log may take before RocksDB flushes the column families holding its
  // oldest file: twice the log's memtable. RocksDB's default is four times every memtable
  // together (about 1.1 GiB with the defaults), all of it kept alive by the rarely flushed group
  // and meta state even after retention deleted the records.
  db_options.max_total_wal_size = 2 * static_cast<uint64_t>(options.write_buffer_bytes);
  // One block cache for every column family, so that block_cache_bytes bounds them together:
  // left alone, RocksDB gives each table factory a cache of its own (8 MiB each).
  rocksdb::BlockBasedTableOptions table_options;
  if (options.block_cache_bytes == 0) {
    table_options.no_block_cache = true;
  } else {
    table_options.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  }
  std::shared_ptr<rocksdb::TableFactory> table_factory(
      rocksdb::NewBlockBasedTableFactory(table_options));

  rocksdb::ColumnFamilyOptions log_options;
  log_options.write_buffer_size = options.write_buffer_bytes;
  log_options.table_factory = table_factory;
  // Payloads are often already compressed or small; LZ4 is cheap where it helps.
  log_options.compression = rocksdb::kLZ4Compression;
  rocksdb::ColumnFamilyOptions small_options;
  small_options.write_buffer_size = std::min<size_t>(options.write_buffer_bytes, 16 << 20);
  small_options.table_factory = table_factory;

  // Consumer-group state is written for every lease and ack and read only when the broker opens:
  // an append-only vector memtable (sorted once, at flush) costs a fraction of a skip-list insert.
  rocksdb::ColumnFamilyOptions groups_options = small_options;
  groups_options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  // The vector memtable takes no concurrent inserts; the writer thread is the only writer anyway.
  db_options.allow_concurrent_memtable_write = false;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {"log", log_options},
      {"log_index", small_options},
      {"meta", small_options},
      {"dedupe", small_options},
      {"groups", groups_options},
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
  store->error_listener_->store_.store(store.get());
  return store;
}

}  // namespace broker::storage
