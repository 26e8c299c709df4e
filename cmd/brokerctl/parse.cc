#include "parse.h"

#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>

namespace brokerctl {
namespace {

// Reads an unsigned integer at the front of `text`, advancing it.
std::optional<uint64_t> TakeNumber(std::string_view& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  text.remove_prefix(static_cast<size_t>(end - text.data()));
  return value;
}

std::optional<int64_t> UnitMillis(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60 * 1000;
  if (unit == "h") return 3600 * 1000;
  if (unit == "d") return 24 * 3600 * 1000;
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string_view rest = text;
  auto plain = TakeNumber(rest);
  if (plain && rest.empty()) {
    if (*plain > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 1000)) {
      return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<int64_t>(*plain) * 1000);
  }
  rest = text;
  int64_t total = 0;
  while (!rest.empty()) {
    auto number = TakeNumber(rest);
    if (!number) return std::nullopt;
    size_t unit_length = 0;
    while (unit_length < rest.size() && rest[unit_length] >= 'a' && rest[unit_length] <= 'z') {
      ++unit_length;
    }
    auto unit = UnitMillis(rest.substr(0, unit_length));
    if (!unit) return std::nullopt;
    rest.remove_prefix(unit_length);
    if (*number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / *unit)) {
      return std::nullopt;
    }
    const int64_t part = static_cast<int64_t>(*number) * *unit;
    if (total > std::numeric_limits<int64_t>::max() - part) return std::nullopt;
    total += part;
  }
  return std::chrono::milliseconds(total);
}

std::optional<double> ParseRate(std::string_view text) {
  double per = 1;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view unit = text.substr(slash + 1);
    if (unit == "s") {
      per = 1;
    } else if (unit == "m") {
      per = 60;
    } else if (unit == "h") {
      per = 3600;
    } else {
      return std::nullopt;
    }
    text = text.substr(0, slash);
  }
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!std::isfinite(value) || value <= 0) return std::nullopt;
  return value / per;
}

std::optional<std::pair<std::string, std::string>> ParseHeader(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

std::optional<int64_t> ParseUtcTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.ffffff]Z
  if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
  auto field = [&](size_t pos, size_t len) -> std::optional<int> {
    int v = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, v);
    if (ec != std::errc() || end != text.data() + pos + len) return std::nullopt;
    return v;
  };
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  auto year = field(0, 4), month = field(5, 2), day = field(8, 2);
  auto hour = field(11, 2), minute = field(14, 2), second = field(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  int64_t micros = 0;
  std::string_view fraction = text.substr(19, text.size() - 20);
  if (!fraction.empty()) {
    if (fraction[0] != '.' || fraction.size() < 2 || fraction.size() > 10) return std::nullopt;
    int64_t scale = 100000;
    for (char c : fraction.substr(1)) {
      if (c < '0' || c > '9') return std::nullopt;
      micros += (c - '0') * scale;
      scale /= 10;
    }
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  const std::time_t seconds = timegm(&tm);
  return static_cast<int64_t>(seconds) * 1000000 + micros;
}

}  // namespace brokerctl
