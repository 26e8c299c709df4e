#include "cpu_usage.h"

#include <sys/resource.h>

namespace brokerbench {
namespace {

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

CpuTime Usage(int who) {
  rusage usage{};
  if (getrusage(who, &usage) != 0) return {};
  return {Seconds(usage.ru_utime), Seconds(usage.ru_stime)};
}

}  // namespace

CpuTime ProcessCpuTime() { return Usage(RUSAGE_SELF); }
CpuTime ThreadCpuTime() { return Usage(RUSAGE_THREAD); }

CpuTime operator-(const CpuTime& a, const CpuTime& b) {
  return {a.user_s - b.user_s, a.system_s - b.system_s};
}
CpuTime operator+(const CpuTime& a, const CpuTime& b) {
  return {a.user_s + b.user_s, a.system_s + b.system_s};
}

}  // namespace brokerbench
