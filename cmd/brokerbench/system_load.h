// The machine's load at the start of a run, reported with every result: client and engine share
// two cores here, so anything else running shows up directly in the figures.
#pragma once

#include <string>

namespace brokerbench {

// 1-minute load average from /proc/loadavg; negative if it cannot be read.
double LoadAverage1();

// The CPUs this process may run on, as a list like "0" or "0-1" (taskset -c 0 ... gives "0"):
// threads confined to one CPU wake each other without waking an idle CPU, which on a VM is most
// of an idle request-reply's latency (BENCHMARKS.md, W3).
std::string AllowedCpus();

}  // namespace brokerbench
