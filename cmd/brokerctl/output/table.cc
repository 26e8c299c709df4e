#include "output/table.h"

#include <algorithm>

namespace brokerctl {
namespace {

// Code points on screen: UTF-8 lead bytes, not counting ANSI colour sequences (ESC '[' ...
// final byte), which take no room.
size_t DisplayWidth(const std::string& s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

void Pad(std::ostream& out, size_t n) {
  for (size_t i = 0; i < n; ++i) out << ' ';
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = DisplayWidth(columns_[c].header);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  auto print_line = [&](auto cell_at) {
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_at(c);
      const size_t pad = widths[c] - DisplayWidth(cell);
      const bool last = c + 1 == columns_.size();
      if (c > 0) out << "  ";
      if (columns_[c].align == kRight) {
        Pad(out, pad);
        out << cell;
      } else {
        out << cell;
        if (!last) Pad(out, pad);
      }
    }
    out << '\n';
  };
  print_line([&](size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_) {
    print_line([&](size_t c) -> const std::string& { return row[c]; });
  }
}

void KeyValues::Add(std::string key, std::string value) {
  lines_.emplace_back(std::move(key), std::move(value));
}

void KeyValues::Print(std::ostream& out, const std::string& indent) const {
  size_t width = 0;
  for (const auto& line : lines_) width = std::max(width, DisplayWidth(line.first));
  for (const auto& [key, value] : lines_) {
    out << indent << key << ':';
    Pad(out, width - DisplayWidth(key) + 2);
    out << value << '\n';
  }
}

}  // namespace brokerctl
