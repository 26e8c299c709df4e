// PrometheusText: builds one scrape's answer in the Prometheus text exposition format (0.0.4):
// metric families, each with its HELP and TYPE lines followed by its samples, label values
// escaped. Knows nothing about the broker; metrics.cc decides what to report.
//
// Thread safety: none; one instance per scrape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brokerd {

class PrometheusText {
 public:
  // Label name and value pairs of one sample, in output order.
  using Labels = std::vector<std::pair<std::string_view, std::string>>;

  // Starts a metric family. `type` is "counter", "gauge" or "histogram". The samples that follow
  // (until the next Family) belong to it; each family is started once per scrape.
  void Family(std::string_view name, std::string_view type, std::string_view help);

  // One sample. `name` is the family's name, or for histograms the family name plus "_bucket",
  // "_sum" or "_count".
  void Sample(std::string_view name, const Labels& labels, uint64_t value);
  void Sample(std::string_view name, const Labels& labels, double value);

  // The _bucket (cumulative, with le="+Inf"), _sum and _count samples of one histogram series,
  // from per-bucket counts: `bounds` are the buckets' inclusive upper limits in the metric's unit
  // (e.g. seconds), `counts` has one entry more than `bounds` (samples above every bound) and
  // `sum` is the samples' total in the same unit.
  void Histogram(std::string_view name, const Labels& labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, double sum);

  // The exposition so far.
  const std::string& text() const { return text_; }

  // Formats `value` as Prometheus does: shortest round-trip text, "+Inf", "-Inf", "NaN".
  static std::string FormatValue(double value);
  // Escapes a label value: backslash, double quote and newline.
  static std::string EscapeLabelValue(std::string_view value);

 private:
  void AppendSeries(std::string_view name, const Labels& labels);

  std::string text_;
};

}  // namespace brokerd
