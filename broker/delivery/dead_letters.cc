#include "delivery/dead_letters.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "storage/validation.h"

namespace broker::delivery {

std::string DeadLetterTopic(std::string_view topic, std::string_view group) {
  std::string name(topic);
  name += '.';
  name += group;
  name += ".dlq";
  return name;
}

std::string FormatTime(TimePoint t) {
  const int64_t us = t.time_since_epoch().count();
  int64_t seconds = us / 1000000;
  int64_t micros = us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --seconds;
  }
  const std::time_t tt = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>(micros));
  return buf;
}

Message BuildDeadLetterMessage(const Record& original, std::string_view topic,
                               std::string_view group, const DeadRecord& dead) {
  Message m;
  m.key = original.key;
  m.payload = original.payload;
  m.headers = original.headers;
  m.headers.emplace_back("dlq.original_topic", std::string(topic));
  m.headers.emplace_back("dlq.original_partition", std::to_string(original.partition.value()));
  m.headers.emplace_back("dlq.original_offset", std::to_string(original.offset.value()));
  m.headers.emplace_back("dlq.group", std::string(group));
  m.headers.emplace_back("dlq.reason", dead.reason);
  m.headers.emplace_back("dlq.attempts", std::to_string(dead.attempts));
  m.headers.emplace_back("dlq.last_error", dead.last_error);
  m.headers.emplace_back("dlq.first_delivery_at", FormatTime(dead.first_delivery));
  m.headers.emplace_back("dlq.dead_at", FormatTime(dead.dead_at));
  return m;
}

std::string SettleText(std::string_view text, std::string_view if_empty) {
  if (text.empty()) return std::string(if_empty);
  if (text.size() <= kMaxSettleTextBytes) return std::string(text);
  size_t end = kMaxSettleTextBytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the character cut in two.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

bool MatchesFilter(const DeadRecord& dead, const DeadLetterFilter& filter, TimePoint now) {
  if (!filter.reason.empty() && dead.reason != filter.reason) return false;
  if (!filter.error_contains.empty() &&
      dead.last_error.find(filter.error_contains) == std::string::npos) {
    return false;
  }
  // Clamped so the conversion to microseconds cannot overflow; nothing is dead for 100 years.
  if (filter.older_than.count() > 0 &&
      now - dead.dead_at < std::min(filter.older_than, storage::kMaxDuration)) {
    return false;
  }
  return true;
}

}  // namespace broker::delivery
