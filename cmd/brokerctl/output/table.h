// Table: aligned columns for the human output of list and describe commands.
//
//   Table t({{"TOPIC"}, {"PARTITIONS", Table::kRight}});
//   t.AddRow({"orders", "3"});
//   t.Print(std::cout);
//
// Cells must be single-line text (see SafeOneLine in output/payload.h for untrusted bytes).
// Widths count UTF-8 code points, so names in other scripts still line up in a terminal; ANSI
// colour sequences in a cell take no width.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace brokerctl {

class Table {
 public:
  enum Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = kLeft;
  };

  explicit Table(std::vector<Column> columns);

  // Missing trailing cells print empty; extra cells are ignored.
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  // Header line, then one line per row; columns separated by two spaces, no trailing spaces.
  void Print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints "label:  value" lines with the values aligned, for describe-style output.
class KeyValues {
 public:
  void Add(std::string key, std::string value);
  void Print(std::ostream& out, const std::string& indent = "") const;

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

}  // namespace brokerctl
