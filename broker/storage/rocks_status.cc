#include "storage/rocks_status.h"

#include <string>

namespace broker::storage {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + " failed: " + s.ToString();
  if (s.severity() >= rocksdb::Status::Severity::kFatalError) {
    // RocksDB stopped writes for good (see StorageDb's ErrorListener); only reopening recovers.
    return Status::Unavailable(msg + "; the broker refuses writes until it is restarted "
                               "(acknowledged data is safe; fix the cause, then restart)");
  }
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kSpaceLimit) {
    return Status::ResourceExhausted(std::string(what) +
                                     " failed: the disk is full; free space on the data "
                                     "directory's filesystem (" + s.ToString() + ")");
  }
  if (s.IsCorruption()) return Status::DataLoss(msg);
  if (s.IsIOError()) {
    // RocksDB reports a LOCK file held by another process ("While lock file: <dir>/LOCK: ...")
    // or by this one ("lock hold by current process ... lock file: <dir>/LOCK") as an I/O
    // error. Match the file name, not just "lock", which any path may contain ("/blocks/...").
    if (s.ToString().find("/LOCK:") != std::string::npos) {
      return Status::FailedPrecondition(
          std::string(what) +
          " failed: the data directory is in use by another broker process (" + s.ToString() +
          "); stop that process or choose another --data-dir");
    }
    return Status::Unavailable(msg);
  }
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTryAgain() || s.IsIncomplete()) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

}  // namespace broker::storage
