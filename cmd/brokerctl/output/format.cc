#include "output/format.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace brokerctl {

std::string HumanDuration(int64_t micros) {
  if (micros <= 0) return "0s";
  if (micros < 1000000) return std::to_string(micros / 1000) + "ms";
  const int64_t seconds = micros / 1000000;
  constexpr int64_t kMinute = 60, kHour = 3600, kDay = 86400;
  auto two = [](int64_t major, const char* major_unit, int64_t minor, const char* minor_unit) {
    std::string s = std::to_string(major) + major_unit;
    if (minor != 0) s += std::to_string(minor) + minor_unit;
    return s;
  };
  if (seconds < kMinute) return std::to_string(seconds) + "s";
  if (seconds < kHour) return two(seconds / kMinute, "m", seconds % kMinute, "s");
  if (seconds < kDay) return two(seconds / kHour, "h", (seconds % kHour) / kMinute, "m");
  return two(seconds / kDay, "d", (seconds % kDay) / kHour, "h");
}

std::string HumanAge(int64_t micros) { return micros == 0 ? "-" : HumanDuration(micros); }

std::string FormatUtc(int64_t micros) {
  if (micros == 0) return "-";
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  const std::time_t tt = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(rest / 1000));
  return buf;
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", value, units[unit]);
  return buf;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace brokerctl
