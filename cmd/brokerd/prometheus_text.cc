#include "prometheus_text.h"

#include <charconv>
#include <cmath>

namespace brokerd {

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  text_.append("# HELP ").append(name).append(" ");
  // HELP text escapes backslash and newline.
  for (char c : help) {
    if (c == '\\') {
      text_.append("\\\\");
    } else if (c == '\n') {
      text_.append("\\n");
    } else {
      text_.push_back(c);
    }
  }
  text_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusText::AppendSeries(std::string_view name, const Labels& labels) {
  text_.append(name);
  if (labels.empty()) return;
  text_.push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) text_.push_back(',');
    text_.append(labels[i].first).append("=\"").append(EscapeLabelValue(labels[i].second));
    text_.push_back('"');
  }
  text_.push_back('}');
}

void PrometheusText::Sample(std::string_view name, const Labels& labels, uint64_t value) {
  AppendSeries(name, labels);
  text_.append(" ").append(std::to_string(value)).append("\n");
}

void PrometheusText::Sample(std::string_view name, const Labels& labels, double value) {
  AppendSeries(name, labels);
  text_.append(" ").append(FormatValue(value)).append("\n");
}

void PrometheusText::Histogram(std::string_view name, const Labels& labels,
                               const std::vector<double>& bounds,
                               const std::vector<uint64_t>& counts, double sum) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i < bounds.size() ? FormatValue(bounds[i]) : "+Inf");
    Sample(bucket, with_le, cumulative);
  }
  Sample(std::string(name) + "_sum", labels, sum);
  Sample(std::string(name) + "_count", labels, cumulative);
}

std::string PrometheusText::FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "NaN";  // cannot happen with this buffer size
  return std::string(buf, end);
}

std::string PrometheusText::EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace brokerd
