// Helpers shared by the soak programs: brokerd's memory from /proc, latency percentiles, and a
// fixed-width table printer for the figures they report.
//
// Thread safety: free functions over their arguments; LatencyWindow is internally locked.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace broker::soak {

// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 if the process or field is gone.
int64_t ProcStatusKib(pid_t pid, const std::string& field);
inline double Mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }
// User + system CPU time the process has used (/proc/<pid>/stat), in seconds; -1 if gone.
double CpuSeconds(pid_t pid);
// The machine's 1-minute load average (/proc/loadavg): how contended the CPUs were.
double LoadAverage1();

// Latencies recorded by handler threads, taken (and reset) once per reporting window.
class LatencyWindow {
 public:
  void Add(std::chrono::nanoseconds latency);
  // The samples since the last Take, sorted ascending.
  std::vector<int64_t> Take();

 private:
  std::mutex mu_;
  std::vector<int64_t> samples_;  // guarded by mu_, nanoseconds
};

// The q-quantile (0..1) of ascending `sorted` nanoseconds, in milliseconds; 0 if empty.
double PercentileMs(const std::vector<int64_t>& sorted, double q);

// Markdown "| a | b |" rows padded to the header's widths: the first column left-aligned, the
// others right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  std::string Header() const;
  std::string Row(const std::vector<std::string>& cells) const;

 private:
  std::vector<std::string> header_;
};

std::string Fixed(double value, int decimals);

}  // namespace broker::soak
