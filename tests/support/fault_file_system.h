// FaultFileSystem: a RocksDB FileSystem that fails writes and reads on demand, and loses what was
// never synced, for full-disk, I/O-error and power-loss tests. Wraps a real FileSystem:
// - while a write fault is set (until cleared, or for the next N writes), the chosen writes
//   return the chosen IOStatus instead of reaching the file;
// - while a read fault is set, reads of table files (*.sst) return an I/O error;
// - it counts, per file written since the last power loss, the bytes written and the bytes a
//   Sync/Fsync made durable. CutPower() fails every later write (nothing more reaches "the disk",
//   while the broker shuts down), and RestorePower() then truncates every such file to its synced
//   length, which is what a machine that lost power keeps of it (kill -9 keeps everything the
//   process wrote, so it cannot show this). Directory entries are taken as durable: a file created,
//   renamed or deleted stays so (RocksDB fsyncs the directory after each of those anyway).
// With set_foreground_only(true) no fault reaches RocksDB's own background threads (flushes,
// compactions; named "rocksdb:*"): their timing is RocksDB's, so failing them would make a
// seeded simulation's run depend on the scheduler.
//
// Thread safety: every method may be called from any thread while RocksDB runs.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

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
    remaining_ = -1;
    active_.store(true);
  }
  // The next `count` writes the fault targets fail, then the fault clears itself.
  void FailNext(Target target, Error error, int count) {
    std::lock_guard lock(mu_);
    target_ = target;
    error_ = error;
    remaining_ = count;
    active_.store(count > 0);
  }
  void ClearFault() { active_.store(false); }
  // Writes that failed because of the fault.
  int injected() const { return injected_.load(); }

  // Reads of table files fail with an I/O error while set.
  void SetReadFault(bool on) { read_fault_.store(on); }
  // Reads that failed because of the read fault.
  int injected_reads() const { return injected_reads_.load(); }
  // Faults spare RocksDB's background threads while set (see the top of the file).
  void set_foreground_only(bool on) { foreground_only_.store(on); }

  // The power goes out: from now on every write, sync, file creation, rename and deletion fails
  // (the broker is to be closed next), until RestorePower.
  void CutPower() { power_cut_.store(true); }
  // Truncates every file written since the last power loss to what was synced of it, forgets
  // them, and lets writes through again. Call with nothing open on this file system. Returns the
  // bytes dropped.
  uint64_t RestorePower() {
    std::lock_guard lock(files_mu_);
    uint64_t dropped = 0;
    for (const auto& [name, file] : files_) {
      std::error_code ec;
      const uintmax_t size = std::filesystem::file_size(name, ec);
      if (ec || size <= file.synced) continue;
      dropped += size - file.synced;
      std::filesystem::resize_file(name, file.synced, ec);
    }
    files_.clear();
    power_cut_.store(false);
    return dropped;
  }
  // Bytes written since the last power loss that no sync covers yet.
  uint64_t unsynced_bytes() const {
    std::lock_guard lock(files_mu_);
    uint64_t total = 0;
    for (const auto& [name, file] : files_) total += file.size - file.synced;
    return total;
  }

  rocksdb::IOStatus NewRandomAccessFile(const std::string& name,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                        rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewRandomAccessFile(name, options, result, dbg);
    if (s.ok() && EndsWith(name, ".sst")) {
      *result = std::make_unique<ReadFile>(std::move(*result), this, name);
    }
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (power_cut_.load()) return PowerCutError(from);
    rocksdb::IOStatus s = target()->RenameFile(from, to, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(files_mu_);
      files_.erase(to);
      if (auto it = files_.find(from); it != files_.end()) {
        files_[to] = it->second;
        files_.erase(from);
      }
    }
    return s;
  }
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (power_cut_.load()) return PowerCutError(name);
    rocksdb::IOStatus s = target()->DeleteFile(name, options, dbg);
    if (s.ok()) {
      std::lock_guard lock(files_mu_);
      files_.erase(name);
    }
    return s;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (power_cut_.load() && !IsInfoLog(name)) return PowerCutError(name);
    return Wrap(name, target()->NewWritableFile(name, options, result, dbg), result, 0);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    if (power_cut_.load() && !IsInfoLog(name)) return PowerCutError(name);
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(name, ec);
    return Wrap(name, target()->ReopenWritableFile(name, options, result, dbg), result,
                ec ? 0 : size);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    if (power_cut_.load() && !IsInfoLog(name)) return PowerCutError(name);
    return Wrap(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), result,
                0);
  }

 private:
  enum class Op { kAppend, kSync };

  // What power loss keeps of a file: `synced` of its `size` bytes.
  struct Tracked {
    uint64_t size = 0;
    uint64_t synced = 0;
  };

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
      return fs_->Appended(name_, data.size(), target()->Append(data, options, dbg));
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kAppend); !s.ok()) return s;
      return fs_->Appended(name_, data.size(), target()->Append(data, options, info, dbg));
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kAppend); !s.ok()) return s;
      return fs_->Written(name_, offset + data.size(),
                          target()->PositionedAppend(data, offset, options, dbg));
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& options,
                                       const rocksdb::DataVerificationInfo& info,
                                       rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kAppend); !s.ok()) return s;
      return fs_->Written(name_, offset + data.size(),
                          target()->PositionedAppend(data, offset, options, info, dbg));
    }
    rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
      if (fs_->power_cut_.load()) return PowerCutError(name_);
      rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
      if (s.ok()) fs_->Truncated(name_, size);
      return s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kSync); !s.ok()) return s;
      return fs_->Synced(name_, target()->Sync(options, dbg));
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->Check(name_, wal_, Op::kSync); !s.ok()) return s;
      return fs_->Synced(name_, target()->Fsync(options, dbg));
    }

   private:
    FaultFileSystem* fs_;
    const std::string name_;
    const bool wal_;
  };

  // A table file opened for reading: reads fail while the read fault is set.
  class ReadFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
   public:
    ReadFile(std::unique_ptr<rocksdb::FSRandomAccessFile> file, FaultFileSystem* fs,
             std::string name)
        : rocksdb::FSRandomAccessFileOwnerWrapper(std::move(file)),
          fs_(fs),
          name_(std::move(name)) {}

    rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& options,
                           rocksdb::Slice* result, char* scratch,
                           rocksdb::IODebugContext* dbg) const override {
      if (auto s = fs_->CheckRead(name_); !s.ok()) return s;
      return target()->Read(offset, n, options, result, scratch, dbg);
    }
    rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                                const rocksdb::IOOptions& options,
                                rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_->CheckRead(name_); !s.ok()) {
        for (size_t i = 0; i < num_reqs; ++i) reqs[i].status = s;
        return s;
      }
      return target()->MultiRead(reqs, num_reqs, options, dbg);
    }

   private:
    FaultFileSystem* fs_;
    const std::string name_;
  };

  static bool EndsWith(const std::string& name, std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  static bool IsWal(const std::string& name) { return EndsWith(name, ".log"); }
  // The info log ("LOG", "LOG.old.*") is left alone so RocksDB can say what went wrong.
  static bool IsInfoLog(const std::string& name) {
    const size_t slash = name.find_last_of('/');
    return name.compare(slash == std::string::npos ? 0 : slash + 1, 3, "LOG") == 0;
  }

  rocksdb::IOStatus Wrap(const std::string& name, rocksdb::IOStatus s,
                         std::unique_ptr<rocksdb::FSWritableFile>* result, uint64_t size) {
    if (s.ok() && !IsInfoLog(name)) {
      *result = std::make_unique<File>(std::move(*result), this, name);
      std::lock_guard lock(files_mu_);
      // A file reopened to append keeps what an earlier power loss left durable of it.
      if (!files_.count(name)) files_[name] = Tracked{size, size};
      if (size == 0) files_[name] = Tracked{};
    }
    return s;
  }

  rocksdb::IOStatus Appended(const std::string& name, uint64_t bytes, rocksdb::IOStatus s) {
    if (s.ok()) {
      std::lock_guard lock(files_mu_);
      files_[name].size += bytes;
    }
    return s;
  }
  rocksdb::IOStatus Written(const std::string& name, uint64_t end, rocksdb::IOStatus s) {
    if (s.ok()) {
      std::lock_guard lock(files_mu_);
      Tracked& file = files_[name];
      if (end > file.size) file.size = end;
    }
    return s;
  }
  void Truncated(const std::string& name, uint64_t size) {
    std::lock_guard lock(files_mu_);
    Tracked& file = files_[name];
    file.size = size;
    if (file.synced > size) file.synced = size;
  }
  rocksdb::IOStatus Synced(const std::string& name, rocksdb::IOStatus s) {
    if (s.ok()) {
      std::lock_guard lock(files_mu_);
      Tracked& file = files_[name];
      file.synced = file.size;
    }
    return s;
  }

  static rocksdb::IOStatus PowerCutError(const std::string& name) {
    return rocksdb::IOStatus::IOError("While writing " + name, "the power is out (simulated)");
  }

  // True on a thread of RocksDB's own pools (named "rocksdb:low", "rocksdb:high", ...).
  static bool OnRocksDbThread() {
    char name[16] = {};
    if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) return false;
    return std::string_view(name).substr(0, 8) == "rocksdb:";
  }

  rocksdb::IOStatus CheckRead(const std::string& name) {
    if (!read_fault_.load() || (foreground_only_.load() && OnRocksDbThread())) {
      return rocksdb::IOStatus::OK();
    }
    injected_reads_.fetch_add(1);
    return rocksdb::IOStatus::IOError("While reading file " + name,
                                      "Input/output error (injected)");
  }

  // Errors read like the POSIX file system's, file name included.
  rocksdb::IOStatus Check(const std::string& name, bool wal, Op op) {
    if (power_cut_.load()) return PowerCutError(name);
    if (!active_.load()) return rocksdb::IOStatus::OK();
    if (foreground_only_.load() && OnRocksDbThread()) return rocksdb::IOStatus::OK();
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
    if (remaining_ > 0 && --remaining_ == 0) active_.store(false);
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
  std::atomic<bool> read_fault_{false};
  std::atomic<int> injected_reads_{0};
  std::atomic<bool> foreground_only_{false};
  std::atomic<bool> power_cut_{false};
  mutable std::mutex files_mu_;
  std::map<std::string, Tracked> files_;  // guarded by files_mu_: written since the power loss
  std::mutex mu_;
  Target target_ = Target::kWalAppend;  // guarded by mu_
  Error error_ = Error::kNoSpace;       // guarded by mu_
  int remaining_ = -1;                  // guarded by mu_: writes left to fail; -1 until cleared
};

}  // namespace broker::testing
