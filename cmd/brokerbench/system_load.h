// The machine's load at the start of a run, reported with every result: client and engine share
// two cores here, so anything else running shows up directly in the figures.
#pragma once

namespace brokerbench {

// 1-minute load average from /proc/loadavg; negative if it cannot be read.
double LoadAverage1();

}  // namespace brokerbench
