// Which partition a keyed message goes to: XXH64(key, seed 0) mod partitions. XXH64's output is
// specified and stable across versions and platforms, so a key keeps its partition for the life of
// the topic (its partition count never changes).
#pragma once

#include <cstdint>
#include <string_view>

#include "broker/types.h"

namespace broker::storage {

PartitionId PartitionForKey(std::string_view key, uint32_t partitions);

}  // namespace broker::storage
