// CPU time used, from getrusage: for the whole process (every thread, the engine's included) or
// for the calling thread. A run's CPU seconds divided by its elapsed seconds says how many of the
// machine's cores it kept busy, which tells a CPU-bound run from one waiting on the disk.
//
// Thread safety: plain functions and values.
#pragma once

namespace brokerbench {

struct CpuTime {
  double user_s = 0;
  double system_s = 0;
  double total_s() const { return user_s + system_s; }
};

// Every thread of this process, since it started.
CpuTime ProcessCpuTime();
// The calling thread, since it started.
CpuTime ThreadCpuTime();
// Another process on this machine (e.g. brokerd), from /proc/PID/stat, in clock ticks (10 ms);
// false if it cannot be read.
bool OtherProcessCpuTime(int pid, CpuTime& out);

CpuTime operator-(const CpuTime& a, const CpuTime& b);
CpuTime operator+(const CpuTime& a, const CpuTime& b);

}  // namespace brokerbench
