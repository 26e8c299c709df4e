// Report: the result of one benchmark run as an ordered list of named values, printed either as
// aligned text for people or as one JSON object for scripts (--json). Every workload fills one;
// names are snake_case and carry their unit (msgs_per_s, p99_us), as in the peers' TSV output.
//
// Thread safety: a single-threaded value.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "latency_summary.h"

namespace brokerbench {

class Report {
 public:
  using Value = std::variant<std::string, bool, int64_t, uint64_t, double>;

  // Values appear in the order they were added. `section` groups lines in the text output
  // ("config", "result", ...) and becomes a nested object in JSON.
  void Add(std::string section, std::string name, Value value);

  void PrintText(std::ostream& out) const;
  void PrintJson(std::ostream& out) const;
  // PrintJson if `json`, else PrintText.
  void Print(std::ostream& out, bool json) const;
  // The latency percentiles and maximum of `l` as results named <prefix>p50_us ... <prefix>max_us.
  void AddLatency(const std::string& prefix, const LatencySummary& l);

 private:
  struct Entry {
    std::string section;
    std::string name;
    Value value;
  };
  std::vector<Entry> entries_;
};

}  // namespace brokerbench
