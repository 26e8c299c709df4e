#include "storage/partitioner.h"

#include <xxhash.h>

namespace broker::storage {

PartitionId PartitionForKey(std::string_view key, uint32_t partitions) {
  const uint64_t hash = XXH64(key.data(), key.size(), 0);
  return PartitionId(static_cast<uint32_t>(hash % partitions));
}

}  // namespace broker::storage
