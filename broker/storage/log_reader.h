// Reading committed records of one partition.
//
// Thread safety: stateless; safe from any thread. Reads see only records below the partition's
// committed end offset, never a commit in progress.
#pragma once

#include "broker/status.h"
#include "broker/types.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker::storage {

Result<ReadResult> ReadPartition(const StorageDb& db, const TopicState& topic,
                                 PartitionId partition, Offset from, const ReadLimits& limits);

// The offset of the first record with timestamp >= `time`, or the partition's end offset if
// there is none. Walks the batch index first, so it reads one batch of records at most.
Result<Offset> OffsetForTime(const StorageDb& db, const TopicState& topic, PartitionId partition,
                             TimePoint time);

}  // namespace broker::storage
