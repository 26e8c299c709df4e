#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace brokerbench {
namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string FormatDouble(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string Format(const Report::Value& value, bool json) {
  struct Visitor {
    bool json;
    std::string operator()(const std::string& s) const { return json ? JsonString(s) : s; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(uint64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return FormatDouble(v); }
  };
  return std::visit(Visitor{json}, value);
}

}  // namespace

void Report::Add(std::string section, std::string name, Value value) {
  entries_.push_back({std::move(section), std::move(name), std::move(value)});
}

void Report::PrintText(std::ostream& out) const {
  size_t width = 0;
  for (const Entry& e : entries_) width = std::max(width, e.name.size());
  const std::string* section = nullptr;
  for (const Entry& e : entries_) {
    if (section == nullptr || *section != e.section) {
      if (section != nullptr) out << '\n';
      out << e.section << ":\n";
      section = &e.section;
    }
    out << "  " << e.name << std::string(width - e.name.size(), ' ') << "  "
        << Format(e.value, false) << '\n';
  }
}

void Report::PrintJson(std::ostream& out) const {
  // Sections in first-seen order, each a nested object.
  std::vector<std::string> sections;
  for (const Entry& e : entries_) {
    if (std::find(sections.begin(), sections.end(), e.section) == sections.end()) {
      sections.push_back(e.section);
    }
  }
  out << "{";
  for (size_t s = 0; s < sections.size(); ++s) {
    out << (s == 0 ? "" : ",") << "\n  " << JsonString(sections[s]) << ": {";
    bool first = true;
    for (const Entry& e : entries_) {
      if (e.section != sections[s]) continue;
      out << (first ? "" : ",") << "\n    " << JsonString(e.name) << ": " << Format(e.value, true);
      first = false;
    }
    out << "\n  }";
  }
  out << "\n}\n";
}

void Report::Print(std::ostream& out, bool json) const {
  if (json) {
    PrintJson(out);
  } else {
    PrintText(out);
  }
}

void Report::AddLatency(const std::string& prefix, const LatencySummary& l) {
  Add("result", prefix + "p50_us", l.p50_us);
  Add("result", prefix + "p99_us", l.p99_us);
  Add("result", prefix + "p999_us", l.p999_us);
  Add("result", prefix + "max_us", l.max_us);
}

}  // namespace brokerbench
