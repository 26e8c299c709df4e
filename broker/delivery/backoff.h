// Redelivery delays (BackoffPolicy in broker/delivery.h).
#pragma once

#include <chrono>
#include <cstdint>

#include "broker/delivery.h"

namespace broker::delivery {

// Delay after the `attempt`-th failed delivery (attempt >= 1). `unit` in [-1, 1] scales the jitter;
// pass 0 for the nominal delay. The result is never negative and never above policy.max.
std::chrono::microseconds BackoffDelay(const BackoffPolicy& policy, uint32_t attempt, double unit);

}  // namespace broker::delivery
