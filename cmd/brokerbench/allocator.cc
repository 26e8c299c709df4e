#include "allocator.h"

#include <mimalloc.h>

namespace brokerbench {

std::string AllocatorName() { return "mimalloc " + std::to_string(mi_version()); }

}  // namespace brokerbench
