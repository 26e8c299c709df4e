#include "latency_summary.h"

#include <algorithm>

namespace brokerbench {

double PercentileUs(const std::vector<uint64_t>& sorted_ns, double p) {
  if (sorted_ns.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(sorted_ns.size()));
  if (k >= sorted_ns.size()) k = sorted_ns.size() - 1;
  return static_cast<double>(sorted_ns[k]) / 1000.0;
}

LatencySummary Summarize(std::vector<uint64_t>& samples_ns) {
  LatencySummary s;
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  double total = 0;
  for (uint64_t v : samples_ns) total += static_cast<double>(v);
  s.count = samples_ns.size();
  s.mean_us = total / static_cast<double>(s.count) / 1000.0;
  s.p50_us = PercentileUs(samples_ns, 0.50);
  s.p99_us = PercentileUs(samples_ns, 0.99);
  s.p999_us = PercentileUs(samples_ns, 0.999);
  s.max_us = static_cast<double>(samples_ns.back()) / 1000.0;
  return s;
}

}  // namespace brokerbench
