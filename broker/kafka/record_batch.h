// Kafka record batches, magic v2 (https://kafka.apache.org/documentation/#recordbatch): decoding a
// producer's batch (CRC-32C checked, uncompressed or gzip) and encoding records for Fetch.
//
// A produced batch is decoded completely before anything is appended, so a bad byte anywhere
// refuses the whole batch: never a partial append.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/types.h"
#include "kafka/errors.h"
#include "kafka/wire.h"

namespace broker::kafka {

// One record as Kafka sees it: key and value may each be null (distinct from empty). A header
// value that is null on the wire reads as empty (the engine's header values are bytes).
struct KafkaRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  Headers headers;
  friend bool operator==(const KafkaRecord&, const KafkaRecord&) = default;
};

struct DecodedBatch {
  ErrorCode error = ErrorCode::kNone;
  std::string error_message;  // why, for the log and ProduceResponse v8+'s ErrorMessage
  std::vector<KafkaRecord> records;
  // An idempotent producer's batch: its id (-1: not idempotent), epoch and the sequence number of
  // the first record (the others follow one by one).
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
};

// Decodes the `Records` of one partition of a ProduceRequest: exactly one v2 batch, as Apache
// Kafka requires from Produce v3 on. Errors: CORRUPT_MESSAGE (sizes, truncation, CRC),
// UNSUPPORTED_FOR_MESSAGE_FORMAT (magic 0/1), UNSUPPORTED_COMPRESSION_TYPE (snappy, lz4, zstd),
// INVALID_RECORD (transactional/control batches, offset deltas out of sequence, no records,
// several batches), RECORD_LIST_TOO_LARGE (gzip that inflates past `max_inflated_bytes`).
DecodedBatch DecodeProduceBatch(std::string_view bytes, size_t max_inflated_bytes);

// A record to serve, as views into storage.
struct OutRecord {
  int64_t offset = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  const Headers* headers = nullptr;
  size_t header_count = 0;  // the first header_count of *headers
};

// Appends one uncompressed v2 batch holding `records` (consecutive offsets, at least one) to
// `out`, with the LogAppendTime attribute and `timestamp_ms` as every record's timestamp.
void AppendBatch(Writer& out, int64_t timestamp_ms, const std::vector<OutRecord>& records);

// Encodes one batch the way a producer does (CreateTime, offset deltas 0..n-1, base offset 0),
// optionally gzip-compressed: for tests, the fuzzer's seeds and nothing on the serving path.
std::string EncodeProducerBatch(const std::vector<KafkaRecord>& records, bool gzip,
                                int64_t timestamp_ms = 0);

}  // namespace broker::kafka
