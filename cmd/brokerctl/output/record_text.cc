#include "output/record_text.h"

#include "output/format.h"

namespace brokerctl {

void PrintRecordDetail(std::ostream& out, const broker::v1::Record& record,
                       const RecordTextOptions& options, const std::string& indent,
                       KeyValues fields) {
  std::string time = FormatUtc(record.timestamp_us());
  if (record.timestamp_us() != 0) {
    time += " (" + HumanDuration(NowMicros() - record.timestamp_us()) + " ago)";
  }
  fields.Add("timestamp", time);
  fields.Add("key", record.has_key() ? SafeOneLine(record.key(), 200) : "(none)");
  fields.Add("headers", record.headers().empty() ? "(none)" : std::to_string(record.headers_size()));
  fields.Print(out, indent);
  for (const auto& h : record.headers()) {
    out << indent << "  " << SafeOneLine(h.name(), 100) << " = " << SafeOneLine(h.value(), 200)
        << '\n';
  }
  RenderedBytes payload = RenderPayload(record.payload(), options.format, options.max_bytes);
  out << indent << "payload (" << payload.label << "):\n";
  size_t start = 0;
  while (start < payload.body.size()) {
    size_t end = payload.body.find('\n', start);
    if (end == std::string::npos) end = payload.body.size();
    out << indent << "  " << std::string_view(payload.body).substr(start, end - start) << '\n';
    start = end + 1;
  }
}

std::string RecordOneLine(const broker::v1::Record& record, size_t max_payload_chars) {
  std::string line = std::to_string(record.partition()) + ":" + std::to_string(record.offset());
  line += "  " + FormatUtc(record.timestamp_us());
  if (record.has_key()) line += "  key=" + SafeOneLine(record.key(), 40);
  line += "  " + SafeOneLine(record.payload(), max_payload_chars);
  return line;
}

}  // namespace brokerctl
