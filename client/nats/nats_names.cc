#include "nats_names.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

namespace broker::client::nats_internal {
namespace {

constexpr std::string_view kGroupConfigTag = "broker-group/1";

bool IsPlain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

const char* StartName(StartPosition start) {
  switch (start) {
    case StartPosition::kEarliest:
      return "earliest";
    case StartPosition::kLatest:
      return "latest";
  }
  return "earliest";
}

const char* OrderingName(Ordering ordering) {
  switch (ordering) {
    case Ordering::kNone:
      return "none";
    case Ordering::kPerKey:
      return "per_key";
    case Ordering::kPerPartition:
      return "per_partition";
  }
  return "none";
}

template <typename T>
bool ParseInt(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseDouble(std::string_view text, double& out) {
  const std::string copy(text);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && !copy.empty();
}

}  // namespace

std::string EscapeToken(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (IsPlain(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('~');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

std::string StreamName(std::string_view topic) { return EscapeToken(topic); }

std::string ConsumerName(std::string_view group) { return EscapeToken(group); }

std::string PartitionSubject(std::string_view prefix, std::string_view topic, uint32_t partition) {
  std::string s(prefix);
  s += ".t.";
  s += EscapeToken(topic);
  s += '.';
  s += std::to_string(partition);
  return s;
}

std::string MemberSubject(std::string_view prefix, std::string_view topic, std::string_view group,
                          std::string_view member) {
  std::string s(prefix);
  s += ".m.";
  s += EscapeToken(topic);
  s += '.';
  s += EscapeToken(group);
  s += '.';
  s += EscapeToken(member);
  return s;
}

std::string ServeSubject(std::string_view prefix, std::string_view topic) {
  std::string s(prefix);
  s += ".s.";
  s += EscapeToken(topic);
  return s;
}

std::optional<uint32_t> PartitionOfSubject(std::string_view subject) {
  const auto dot = subject.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  uint32_t partition = 0;
  if (!ParseInt(subject.substr(dot + 1), partition)) return std::nullopt;
  return partition;
}

Status ValidateGroupName(std::string_view group) {
  if (group.empty() || group.size() > 100) {
    return Status::InvalidArgument("group name must be 1 to 100 characters long");
  }
  for (char c : group) {
    if (!IsPlain(c) && c != '.') {
      return Status::InvalidArgument("group name '" + std::string(group) +
                                     "' may only contain A-Z, a-z, 0-9, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

std::string EncodeGroupConfig(const GroupConfig& config) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << kGroupConfigTag << " start=" << StartName(config.start)
      << " ordering=" << OrderingName(config.ordering)
      << " ack_timeout_ms=" << config.ack_timeout.count()
      << " max_deliveries=" << config.max_deliveries
      << " backoff_initial_ms=" << config.backoff.initial.count()
      << " backoff_multiplier=" << config.backoff.multiplier
      << " backoff_max_ms=" << config.backoff.max.count()
      << " backoff_jitter=" << config.backoff.jitter;
  return out.str();
}

std::optional<GroupConfig> DecodeGroupConfig(std::string_view description) {
  if (description.substr(0, kGroupConfigTag.size()) != kGroupConfigTag) return std::nullopt;
  GroupConfig config;
  std::string_view rest = description.substr(kGroupConfigTag.size());
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto space = rest.find(' ');
    const std::string_view field = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space);
    if (field.empty()) continue;
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    int64_t ms = 0;
    bool ok = true;
    if (name == "start") {
      if (value == "earliest") {
        config.start = StartPosition::kEarliest;
      } else if (value == "latest") {
        config.start = StartPosition::kLatest;
      } else {
        ok = false;
      }
    } else if (name == "ordering") {
      if (value == "none") {
        config.ordering = Ordering::kNone;
      } else if (value == "per_key") {
        config.ordering = Ordering::kPerKey;
      } else if (value == "per_partition") {
        config.ordering = Ordering::kPerPartition;
      } else {
        ok = false;
      }
    } else if (name == "ack_timeout_ms") {
      ok = ParseInt(value, ms);
      config.ack_timeout = std::chrono::milliseconds(ms);
    } else if (name == "max_deliveries") {
      ok = ParseInt(value, config.max_deliveries);
    } else if (name == "backoff_initial_ms") {
      ok = ParseInt(value, ms);
      config.backoff.initial = std::chrono::milliseconds(ms);
    } else if (name == "backoff_multiplier") {
      ok = ParseDouble(value, config.backoff.multiplier);
    } else if (name == "backoff_max_ms") {
      ok = ParseInt(value, ms);
      config.backoff.max = std::chrono::milliseconds(ms);
    } else if (name == "backoff_jitter") {
      ok = ParseDouble(value, config.backoff.jitter);
    }  // unknown fields are skipped: a newer client may add some
    if (!ok) return std::nullopt;
  }
  return config;
}

}  // namespace broker::client::nats_internal
