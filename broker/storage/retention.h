// Retention: deletes whole record batches from the front of each partition by age and by size
// (limits), or once they are settled (interest: every group settled them; dead-letter topics: the
// group holds none of the letters), and forgets idempotency keys whose dedupe window has passed.
//
// Thread safety: writer thread only (run through LogWriter::RunExclusive), because it moves
// partitions' first offsets, which the writer owns.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "broker/status.h"
#include "broker/types.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker::storage {

// A partition that lost at least this many bytes (in one pass or over several) has the deleted
// range compacted (StorageDb::CompactDeletedRange), so a drained topic's disk space returns soon.
inline constexpr uint64_t kCompactAfterBytes = uint64_t{4} << 20;

struct RetentionResult {
  uint64_t records_deleted = 0;
  uint64_t dedupe_keys_expired = 0;
  // Log key ranges [first, second) deleted in partitions that lost >= kCompactAfterBytes: the
  // caller compacts them (outside the writer thread).
  std::vector<std::pair<std::string, std::string>> to_compact;
};

// Topics whose records go once they are settled, by topic id: per partition, the offset below
// which every record is settled and that is committed (so no crash can bring an unsettled offset
// below it back). For an interest topic with groups: every group of the topic has settled the
// records. For a dead-letter topic: its group holds none of the letters (they were purged or
// redriven). The delivery layer computes them; storage only reads them.
using SettledFloors = std::map<uint32_t, std::vector<uint64_t>>;

// A batch is deleted when (retention_age > 0 and now - its newest record's timestamp >
// retention_age) or (retention_bytes > 0 and the partition holds more than retention_bytes without
// it) or (the topic is in `settled` and the batch ends at or below its partition's floor: a batch
// is deleted whole or not at all). An interest topic missing from `settled` (no group yet) keeps
// its records. Batches go strictly from the front: the first batch
// that stays ends the pass. An idempotency key expires when now - first_seen >= dedupe_window.
Result<RetentionResult> ApplyRetention(const StorageDb& db, TopicRegistry& registry, TimePoint now,
                                       std::chrono::milliseconds dedupe_window,
                                       const SettledFloors& settled);

}  // namespace broker::storage
