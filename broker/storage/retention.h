// Retention: deletes whole record batches from the front of each partition by age and by size,
// and forgets idempotency keys whose dedupe window has passed.
//
// Thread safety: writer thread only (run through LogWriter::RunExclusive), because it moves
// partitions' first offsets, which the writer owns.
#pragma once

#include <chrono>
#include <cstdint>

#include "broker/status.h"
#include "broker/types.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker::storage {

struct RetentionResult {
  uint64_t records_deleted = 0;
  uint64_t dedupe_keys_expired = 0;
};

// A batch is deleted when (retention_age > 0 and now - its newest record's timestamp >
// retention_age) or (retention_bytes > 0 and the partition holds more than retention_bytes without
// it). Batches go strictly from the front: the first batch that stays ends the pass. An
// idempotency key expires when now - first_seen >= dedupe_window.
Result<RetentionResult> ApplyRetention(const StorageDb& db, TopicRegistry& registry, TimePoint now,
                                       std::chrono::milliseconds dedupe_window);

}  // namespace broker::storage
