// The message payload of a run: random bytes, generated once; every message carries the same
// bytes, as in the peer benchmarks (../shared/bench-peers/src/common.h fill_random).
#pragma once

#include <cstddef>
#include <string>

namespace brokerbench {

// `size` random bytes (seeded from std::random_device).
std::string RandomPayload(size_t size);

}  // namespace brokerbench
