#include "delivery/backoff.h"

#include <algorithm>
#include <cmath>

namespace broker::delivery {

std::chrono::microseconds BackoffDelay(const BackoffPolicy& policy, uint32_t attempt, double unit) {
  using std::chrono::microseconds;
  const double max_us = static_cast<double>(microseconds(policy.max).count());
  const double initial_us = static_cast<double>(microseconds(policy.initial).count());
  const double exponent = attempt == 0 ? 0.0 : static_cast<double>(attempt - 1);
  double delay = std::min(max_us, initial_us * std::pow(std::max(policy.multiplier, 1.0), exponent));
  delay *= 1.0 + std::clamp(policy.jitter, 0.0, 1.0) * std::clamp(unit, -1.0, 1.0);
  delay = std::clamp(delay, 0.0, max_us);
  return microseconds(static_cast<int64_t>(std::llround(delay)));
}

}  // namespace broker::delivery
