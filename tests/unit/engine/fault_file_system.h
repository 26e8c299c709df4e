// FaultFileSystem: a RocksDB FileSystem that fails writes on demand, for full-disk and I/O-error
// tests. Wraps a real FileSystem; while a fault is set, the chosen writes return the chosen
// IOStatus instead of reaching the file.
//
// Thread safety: SetFault and the counters may be used from any thread while RocksDB runs.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <rocksdb/file_system.h>
#include <rocksdb/io_status.h>

namespace broker::testing {

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  enum class Target {
    kWalAppend,  // appends to write-ahead logs (*.log) fail
    kWalSync,    // appends reach the WAL, but its sync fails
    kAllWrites,  // every append and sync of every data file fails (WAL, SST, MANIFEST)
  };
  enum class Error { kNoSpace, kIoError };

  explicit FaultFileSystem(std::shared_ptr<rocksdb::FileSystem> base)
      : rocksdb::FileSystemWrapper(std::move(base)) {}

  const char* Name() const override { return "FaultFileSystem"; }

  void SetFault(Target target, Error error) {
    std::lock_guard lock(mu_);
    target_ = target;
    error_ = error;
    active_.store(true);
  }
  void ClearFault() { active_.store(false); }
  // Writes that failed because of the fault.
  int injected() const { return injected_.load(); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    return Wrap(name, target()->NewWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    return Wrap(name, target()->ReopenWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    return Wrap(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), result);
  }

 private:
  enum class Op { kAppend, kSync };

  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, FaultFileSystem* fs, std::string name)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(file)),
          fs_(fs),
          name_(std::move(name)),
          wal_(IsWal(name_)) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kAppend); !s.ok()) return s;
      return target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kAppend); !s.ok()) return s;
      return target()->Append(data, options, info, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kAppend); !s.ok()) return s;
      return target()->PositionedAppend(data, offset, options, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options,
                                       const rocksdb::DataVerificationInfo& info,
                                       rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kAppend); !s.ok()) return s;
      return target()->PositionedAppend(data, offset, options, info, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kSync); !s.ok()) return s;
      return target()->Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kSync); !s.ok()) return s;
      return target()->Fsync(options, dbg);
    }

   private:
    FaultFileSystem* fs_;
    const std::string name_;
    const bool wal_;
  };

  static bool IsWal(const std::string& name) {
    return name.size() >= 4 && name.compare(name.size() - 4, 4, ".log") == 0;
  }
  // The info log ("LOG", "LOG.old.*") is left alone so RocksDB can say what went wrong.
  static bool IsInfoLog(const std::string& name) {
    const size_t slash = name.find_last_of('/');
    return name.compare(slash == std::string::npos ? 0 : slash + 1, 3, "LOG") == 0;
  }

  rocksdb::IOStatus Wrap(const std::string& name, rocksdb::IOStatus s,
                         std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (s.ok() && !IsInfoLog(name)) {
      *result = std::make_unique<File>(std::move(*result), this, name);
    }
    return s;
  }

  // Errors read like the POSIX file system's, file name included.
  rocksdb::IOStatus Check(const std::string& name, bool wal, Op op) {
    if (!active_.load()) return rocksdb::IOStatus::OK();
    std::lock_guard lock(mu_);
    bool fail = false;
    switch (target_) {
      case Target::kWalAppend:
        fail = wal && op == Op::kAppend;
        break;
      case Target::kWalSync:
        fail = wal && op == Op::kSync;
        break;
      case Target::kAllWrites:
        fail = true;
        break;
    }
    if (!fail) return rocksdb::IOStatus::OK();
    injected_.fetch_add(1);
    const std::string context =
        (op == Op::kAppend ? "While appending to file: " : "While fsync: a file ") + name;
    switch (error_) {
      case Error::kNoSpace:
        return rocksdb::IOStatus::NoSpace(context, "No space left on device (injected)");
      case Error::kIoError:
        return rocksdb::IOStatus::IOError(context, "Input/output error (injected)");
    }
    return rocksdb::IOStatus::OK();
  }

  std::atomic<bool> active_{false};
  std::atomic<int> injected_{0};
  std::mutex mu_;
  Target target_ = Target::kWalAppend;  // guarded by mu_
  Error error_ = Error::kNoSpace;       // guarded by mu_
};

}  // namespace broker::testing
