// Fuzz target: the meta and dedupe column families' value codecs (storage/topic_meta.h), which
// Broker::Open decodes for every topic, partition and idempotency key it recovers.
//
// Input: byte 0 picks the decoder (0 topic, 1 partition, 2 dedupe record), the rest is the value.
// Properties beyond "no crash": every field is stored at full width, so a value that decodes
// re-encodes to exactly its own bytes (topic records: those of the current version); a partition
// record never has first > end.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "storage/topic_meta.h"

namespace broker::storage {
namespace {

// Version 2 re-encodes to its own bytes; version 1 (before retention policies) is read as limits
// retention and re-encoded as version 2, which then round-trips.
void CheckTopicRecord(std::string_view value) {
  TopicRecord record;
  if (!DecodeTopicRecord(value, record)) return;
  const std::string canonical = EncodeTopicRecord(record);
  if (value.substr(0, 4) == std::string_view("\2\0\0\0", 4)) FUZZ_CHECK(canonical == value);
  TopicRecord again;
  FUZZ_CHECK(DecodeTopicRecord(canonical, again));
  FUZZ_CHECK(EncodeTopicRecord(again) == canonical);
}

void CheckPartitionRecord(std::string_view value) {
  PartitionRecord record;
  if (!DecodePartitionRecord(value, record)) return;
  FUZZ_CHECK(record.first_offset <= record.end_offset);
  FUZZ_CHECK(EncodePartitionRecord(record) == value);
}

void CheckDedupeRecord(std::string_view value) {
  DedupeRecord record;
  if (!DecodeDedupeRecord(value, record)) return;
  FUZZ_CHECK(EncodeDedupeRecord(record) == value);
}

}  // namespace
}  // namespace broker::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view value(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      broker::storage::CheckTopicRecord(value);
      break;
    case 1:
      broker::storage::CheckPartitionRecord(value);
      break;
    case 2:
      broker::storage::CheckDedupeRecord(value);
      break;
  }
  return 0;
}
