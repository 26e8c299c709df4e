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

}  // namespace broker::storage
