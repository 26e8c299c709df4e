#include "soak_support.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace broker::soak {

int64_t ProcStatusKib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string prefix = field + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream value(line.substr(prefix.size()));
    int64_t kib = -1;
    value >> kib;
    return kib;
  }
  return -1;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return -1;
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  uint64_t utime = 0;
  uint64_t stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

void LatencyWindow::Add(std::chrono::nanoseconds latency) {
  std::lock_guard lock(mu_);
  samples_.push_back(latency.count());
}

std::vector<int64_t> LatencyWindow::Take() {
  std::vector<int64_t> out;
  {
    std::lock_guard lock(mu_);
    out.swap(samples_);
  }
  std::sort(out.begin(), out.end());
  return out;
}

double PercentileMs(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t index =
      std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[index]) / 1e6;
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

std::string Table::Header() const {
  std::string out = Row(header_) + "\n|";
  for (size_t i = 0; i < header_.size(); ++i) {
    // The first column (a time or a phase name) reads best left-aligned, numbers right-aligned.
    out += i == 0 ? ":" + std::string(header_[i].size() + 1, '-') + "|"
                  : std::string(header_[i].size() + 1, '-') + ":|";
  }
  return out;
}

std::string Table::Row(const std::vector<std::string>& cells) const {
  std::string out = "|";
  for (size_t i = 0; i < header_.size(); ++i) {
    const std::string cell = i < cells.size() ? cells[i] : "";
    const size_t width = header_[i].size();
    const std::string pad(width > cell.size() ? width - cell.size() : 0, ' ');
    out += " " + (i == 0 ? cell + pad : pad + cell) + " |";
  }
  return out;
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace broker::soak
