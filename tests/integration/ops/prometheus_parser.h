// A strict reader of the Prometheus text exposition format (0.0.4) for tests: every sample must
// follow its family's HELP and TYPE lines, names and label names must be valid, label values
// properly escaped, values numbers. Samples are looked up by name and labels.
#pragma once

#include <cctype>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace broker::integration {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromScrape {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, ...
  std::map<std::string, std::string> help;
  std::vector<PromSample> samples;

  // Samples named `name` whose labels include every entry of `match`.
  std::vector<PromSample> Find(const std::string& name,
                               const std::map<std::string, std::string>& match = {}) const {
    std::vector<PromSample> out;
    for (const PromSample& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) all = false;
      }
      if (all) out.push_back(s);
    }
    return out;
  }
  // The value of the one sample matching, or nullopt if none; throws if several match.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& match = {}) const {
    auto found = Find(name, match);
    if (found.empty()) return std::nullopt;
    if (found.size() > 1) throw std::runtime_error("several samples match " + name);
    return found[0].value;
  }
  // Sum over the samples matching.
  double Sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    double total = 0;
    for (const PromSample& s : Find(name, match)) total += s.value;
    return total;
  }
};

inline bool ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
                    (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

// The family a sample belongs to: histogram samples carry _bucket, _sum or _count.
inline std::string FamilyOf(const std::string& name,
                            const std::map<std::string, std::string>& types) {
  if (types.contains(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string_view s(suffix);
    if (name.size() > s.size() && name.ends_with(s)) {
      std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return "";
}

// Parses `text`; throws std::runtime_error naming the bad line.
inline PromScrape ParsePrometheusText(const std::string& text) {
  PromScrape out;
  std::set<std::string> finished;  // families already closed by another family's lines
  std::string current;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) throw std::runtime_error("the text does not end with a newline");
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    auto fail = [&](const std::string& why) {
      throw std::runtime_error("line " + std::to_string(line_no) + " '" + line + "': " + why);
    };
    if (line.empty()) continue;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool is_help = line[2] == 'H';
      const std::string rest = line.substr(7);
      const size_t space = rest.find(' ');
      if (space == std::string::npos) fail("no text after the name");
      const std::string name = rest.substr(0, space);
      if (!ValidMetricName(name)) fail("bad metric name");
      if (name != current) {
        if (finished.contains(name)) fail("family appears twice");
        if (!current.empty()) finished.insert(current);
        current = name;
      }
      if (is_help) {
        out.help[name] = rest.substr(space + 1);
      } else {
        const std::string type = rest.substr(space + 1);
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped") {
          fail("bad type");
        }
        if (!out.help.contains(name)) fail("TYPE before HELP");
        out.types[name] = type;
      }
      continue;
    }
    if (line[0] == '#') continue;  // comment

    PromSample sample;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    sample.name = line.substr(0, i);
    if (!ValidMetricName(sample.name)) fail("bad metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) fail("label without '='");
        const std::string label = line.substr(i, eq - i);
        if (!ValidMetricName(label) || label.find(':') != std::string::npos) fail("bad label");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') fail("label value not quoted");
        ++i;
        std::string value;
        for (;; ++i) {
          if (i >= line.size()) fail("unterminated label value");
          if (line[i] == '"') break;
          if (line[i] == '\\') {
            ++i;
            if (i >= line.size()) fail("dangling escape");
            if (line[i] == 'n') {
              value.push_back('\n');
            } else if (line[i] == '\\' || line[i] == '"') {
              value.push_back(line[i]);
            } else {
              fail("bad escape");
            }
          } else {
            value.push_back(line[i]);
          }
        }
        ++i;  // closing quote
        if (sample.labels.contains(label)) fail("label repeated");
        sample.labels[label] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) fail("unterminated label set");
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') fail("no value");
    const std::string value = line.substr(i + 1);
    if (value == "+Inf") {
      sample.value = std::numeric_limits<double>::infinity();
    } else if (value == "-Inf") {
      sample.value = -std::numeric_limits<double>::infinity();
    } else if (value == "NaN") {
      sample.value = std::numeric_limits<double>::quiet_NaN();
    } else {
      char* parsed_end = nullptr;
      sample.value = std::strtod(value.c_str(), &parsed_end);
      if (parsed_end == value.c_str() || *parsed_end != '\0') fail("value is not a number");
    }
    const std::string family = FamilyOf(sample.name, out.types);
    if (family.empty()) fail("sample without HELP/TYPE");
    if (family != current) fail("sample outside its family's block");
    out.samples.push_back(std::move(sample));
  }
  return out;
}

}  // namespace broker::integration
