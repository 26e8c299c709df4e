#include "cpu_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

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

bool OtherProcessCpuTime(int pid, CpuTime& out) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return false;
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const size_t name_end = line.rfind(')');
  if (name_end == std::string::npos) return false;
  std::istringstream fields(line.substr(name_end + 1));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;  // state .. cmajflt
  double utime_ticks = 0;
  double stime_ticks = 0;
  if (!(fields >> utime_ticks >> stime_ticks)) return false;
  const double ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
  out = {utime_ticks / ticks_per_s, stime_ticks / ticks_per_s};
  return true;
}

CpuTime operator-(const CpuTime& a, const CpuTime& b) {
  return {a.user_s - b.user_s, a.system_s - b.system_s};
}
CpuTime operator+(const CpuTime& a, const CpuTime& b) {
  return {a.user_s + b.user_s, a.system_s + b.system_s};
}

}  // namespace brokerbench
