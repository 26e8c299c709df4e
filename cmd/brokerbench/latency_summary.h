// Percentiles of a set of latency samples, computed the way the peer benchmarks do
// (../shared/bench-peers/src/common.h pct_us: nearest rank, index floor(p * n) of the sorted
// samples), so p50/p99/p99.9 mean the same thing on both sides.
//
// Thread safety: plain values and functions.
#pragma once

#include <cstdint>
#include <vector>

namespace brokerbench {

struct LatencySummary {
  uint64_t count = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

// Sorts `samples_ns` in place. All zero for no samples.
LatencySummary Summarize(std::vector<uint64_t>& samples_ns);

// Nearest-rank percentile, p in [0, 1], of ascending `sorted_ns`, in microseconds.
double PercentileUs(const std::vector<uint64_t>& sorted_ns, double p);

}  // namespace brokerbench
