// Reading committed records of one partition.
//
// Thread safety: ReadPartition and OffsetForTime are stateless and safe from any thread;
// PartitionReadAhead is a single-threaded value. Reads see only records below the partition's
// committed end offset, never a commit in progress.
#pragma once

#include <cstdint>
#include <string>

#include "broker/status.h"
#include "broker/types.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker::storage {

Result<ReadResult> ReadPartition(const StorageDb& db, const TopicState& topic,
                                 PartitionId partition, Offset from, const ReadLimits& limits);

// Reads one partition forward in steps, keeping the record batch that holds the read position.
// A consumer group leases a poll's worth of records (say 100) at a time, while one batch holds up
// to 1 MiB of records (docs/storage_format.md): ReadPartition would fetch (from an SST file:
// decompress) that whole batch and skip to the position on every poll; this fetches it once.
// Holds at most one batch (about 1 MiB) and none once the batch is read to its end.
class PartitionReadAhead {
 public:
  PartitionReadAhead() = default;
  PartitionReadAhead(const PartitionReadAhead&) = delete;
  PartitionReadAhead& operator=(const PartitionReadAhead&) = delete;
  PartitionReadAhead(PartitionReadAhead&&) = default;
  PartitionReadAhead& operator=(PartitionReadAhead&&) = default;

  // What ReadPartition(db, topic, partition, from, limits) returns. Any `from` works; reading on
  // from where the last read stopped is what is cheap. `topic` and `partition` must be the same
  // on every call (or call Clear first).
  Result<ReadResult> Read(const StorageDb& db, const TopicState& topic, PartitionId partition,
                          Offset from, const ReadLimits& limits);
  // Drops the kept batch.
  void Clear();
  // Memory held by the kept batch.
  size_t kept_bytes() const { return batch_.empty() ? 0 : batch_.capacity(); }

 private:
  std::string batch_;      // the kept batch's value; empty: none
  uint64_t base_ = 0;      // offset of its first record
  uint32_t count_ = 0;     // records in it
  uint64_t next_ = 0;      // offset of the record at position_
  size_t position_ = 0;    // BatchDecoder position of that record
};

// The offset of the first record with timestamp >= `time`, or the partition's end offset if
// there is none. Walks the batch index first, so it reads one batch of records at most.
Result<Offset> OffsetForTime(const StorageDb& db, const TopicState& topic, PartitionId partition,
                             TimePoint time);

}  // namespace broker::storage
