// Fuzz target: the log column families' codecs, which Broker::Open, reads and retention apply to
// whatever is on disk (layout: docs/storage_format.md). A bit flip on disk must give "corrupt",
// never a crash, an out-of-bounds read or undefined behaviour.
//
// Input: byte 0 picks the decoder, the rest is the stored bytes:
//   0: a record batch (log CF value) through BatchDecoder and DecodeHeaders
//   1: a batch index entry (log_index CF value) through DecodeIndexEntry
//   2: a log key through DecodeLogKey
// Properties beyond "no crash": what decodes re-encodes to something that decodes the same.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "storage/keys.h"
#include "storage/record_codec.h"

namespace broker::storage {
namespace {

struct DecodedRecord {
  TimePoint timestamp;
  std::optional<std::string> key;
  Headers headers;
  std::string payload;
  size_t encoded_size = 0;
  friend bool operator==(const DecodedRecord&, const DecodedRecord&) = default;
};

// Every record of `value` up to the end or the first corrupt one; `corrupt` tells which.
std::vector<DecodedRecord> DecodeBatch(std::string_view value, bool& corrupt) {
  std::vector<DecodedRecord> out;
  BatchDecoder decoder(value);
  RecordView view;
  size_t consumed = 0;
  while (decoder.Next(view)) {
    DecodedRecord record{.timestamp = view.timestamp,
                         .payload = std::string(view.payload),
                         .encoded_size = view.encoded_size};
    if (view.has_key) record.key = std::string(view.key);
    // The decoder has already walked the header pairs, so they must decode.
    FUZZ_CHECK(DecodeHeaders(view, record.headers));
    FUZZ_CHECK(record.headers.size() == view.header_count);
    consumed += view.encoded_size;
    FUZZ_CHECK(consumed <= value.size());
    out.push_back(std::move(record));
  }
  corrupt = decoder.corrupt();
  if (!corrupt) FUZZ_CHECK(out.size() == decoder.count());
  return out;
}

void CheckBatch(std::string_view value) {
  bool corrupt = false;
  const std::vector<DecodedRecord> records = DecodeBatch(value, corrupt);
  if (corrupt) return;
  BatchEncoder encoder;
  for (const DecodedRecord& r : records) {
    const Message message{.key = r.key, .payload = r.payload, .headers = r.headers};
    FUZZ_CHECK(encoder.Add(message, r.timestamp) == r.encoded_size);
    FUZZ_CHECK(MessageSize(message) <= r.encoded_size);
  }
  const std::string again = encoder.Finish();
  FUZZ_CHECK(again.size() <= value.size());
  bool corrupt_again = false;
  FUZZ_CHECK(DecodeBatch(again, corrupt_again) == records);
  FUZZ_CHECK(!corrupt_again);
}

void CheckIndexEntry(std::string_view value) {
  BatchIndexEntry entry;
  if (!DecodeIndexEntry(value, entry)) return;
  FUZZ_CHECK(EncodeIndexEntry(entry) == value);
}

void CheckLogKey(std::string_view key) {
  LogKeyParts parts;
  if (!DecodeLogKey(key, parts)) return;
  FUZZ_CHECK(LogKey(parts.topic, parts.partition, parts.base_offset) == key);
  FUZZ_CHECK(key.starts_with(PartitionPrefix(parts.topic, parts.partition)));
}

}  // namespace
}  // namespace broker::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view value(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      broker::storage::CheckBatch(value);
      break;
    case 1:
      broker::storage::CheckIndexEntry(value);
      break;
    case 2:
      broker::storage::CheckLogKey(value);
      break;
  }
  return 0;
}
