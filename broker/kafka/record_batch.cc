#include "kafka/record_batch.h"

#include <zlib.h>

#include <algorithm>

#include "kafka/crc32c.h"

namespace broker::kafka {
namespace {

// Batch header layout (bytes from the start of the batch).
constexpr size_t kBatchLengthEnd = 12;  // baseOffset int64, batchLength int32
constexpr size_t kMagicOffset = 16;     // after partitionLeaderEpoch int32
constexpr size_t kCrcEnd = 21;          // crc uint32 after magic; CRC covers the rest
constexpr size_t kHeaderBytes = 61;     // through recordCount
constexpr size_t kMinRecordBytes = 7;   // length, attributes, ts, offset, key, value, headers

constexpr int16_t kCompressionMask = 0x07;
constexpr int16_t kCompressionNone = 0;
constexpr int16_t kCompressionGzip = 1;
constexpr int16_t kLogAppendTime = 0x08;
constexpr int16_t kTransactional = 0x10;
constexpr int16_t kControl = 0x20;

DecodedBatch Error(ErrorCode code, std::string message) {
  return DecodedBatch{.error = code, .error_message = std::move(message), .records = {}};
}

// Inflates a gzip stream, refusing one that grows past `limit` (a decompression bomb).
bool Gunzip(std::string_view in, size_t limit, std::string& out, bool& too_large) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(chunk, sizeof(chunk) - zs.avail_out);
    if (out.size() > limit) {
      too_large = true;
      break;
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // truncated stream
  }
  const bool ok = rc == Z_STREAM_END && zs.avail_in == 0 && !too_large;
  inflateEnd(&zs);
  return ok;
}

bool Gzip(std::string_view in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

// One record of a batch; false if it is malformed. `index` must equal its offset delta.
bool DecodeRecord(Reader& in, int32_t index, KafkaRecord& record, bool& bad_delta) {
  const int32_t length = in.Varint();
  if (in.failed() || length < 0 || static_cast<size_t>(length) > in.remaining()) return false;
  Reader r(in.Raw(static_cast<size_t>(length)));
  r.Int8();     // attributes (unused in v2)
  r.Varlong();  // timestampDelta: the broker stamps LogAppendTime
  if (r.Varint() != index) bad_delta = true;
  auto read_nullable = [&r](std::optional<std::string>& field) {
    const int32_t n = r.Varint();
    if (n < -1 || (n >= 0 && static_cast<size_t>(n) > r.remaining())) {
      r.Fail();
    } else if (n >= 0) {
      field = std::string(r.Raw(static_cast<size_t>(n)));
    }
  };
  read_nullable(record.key);
  read_nullable(record.value);
  const int32_t headers = r.Varint();
  if (headers < 0 || static_cast<size_t>(headers) * 2 > r.remaining()) return false;
  record.headers.reserve(static_cast<size_t>(headers));
  for (int32_t h = 0; h < headers && !r.failed(); ++h) {
    const int32_t key_length = r.Varint();
    if (key_length < 0 || static_cast<size_t>(key_length) > r.remaining()) return false;
    std::string key(r.Raw(static_cast<size_t>(key_length)));
    std::optional<std::string> value;
    read_nullable(value);
    record.headers.emplace_back(std::move(key), value.value_or(""));
  }
  return !r.failed() && r.remaining() == 0;
}

size_t NullableFieldSize(const std::optional<std::string_view>& field) {
  return field ? VarintSize(static_cast<int64_t>(field->size())) + field->size() : 1;
}

void WriteNullableField(Writer& out, const std::optional<std::string_view>& field) {
  if (!field) return out.Varint(-1);
  out.Varint(static_cast<int32_t>(field->size()));
  out.Raw(*field);
}

// Writes one record straight into `out`: its length is computed first, so no record is built
// apart and copied.
void AppendRecord(Writer& out, int32_t index, int64_t timestamp_delta,
                  const std::optional<std::string_view>& key,
                  const std::optional<std::string_view>& value, const Headers& headers,
                  size_t header_count) {
  size_t size = 1 + VarintSize(timestamp_delta) + VarintSize(index) + NullableFieldSize(key) +
                NullableFieldSize(value) + VarintSize(static_cast<int64_t>(header_count));
  for (size_t h = 0; h < header_count; ++h) {
    size += NullableFieldSize(headers[h].first) + NullableFieldSize(headers[h].second);
  }
  out.Varint(static_cast<int32_t>(size));
  out.Int8(0);  // attributes
  out.Varlong(timestamp_delta);
  out.Varint(index);
  WriteNullableField(out, key);
  WriteNullableField(out, value);
  out.Varint(static_cast<int32_t>(header_count));
  for (size_t h = 0; h < header_count; ++h) {
    WriteNullableField(out, headers[h].first);
    WriteNullableField(out, headers[h].second);
  }
}

// Writes a batch header for `count` records; its length and CRC are set by FinishBatch once the
// records follow it. Returns where the batch starts.
size_t BeginBatch(Writer& out, int64_t base_offset, int16_t attributes, int32_t count,
                  int64_t timestamp_ms) {
  const size_t start = out.size();
  out.Int64(base_offset);
  out.Int32(0);  // batchLength, patched by FinishBatch
  out.Int32(0);  // partitionLeaderEpoch: one broker, epoch 0 forever
  out.Int8(2);   // magic
  out.Int32(0);  // crc, patched by FinishBatch
  out.Int16(attributes);
  out.Int32(count - 1);  // lastOffsetDelta
  out.Int64(timestamp_ms);
  out.Int64(timestamp_ms);
  out.Int64(-1);  // producerId
  out.Int16(-1);  // producerEpoch
  out.Int32(-1);  // baseSequence
  out.Int32(count);
  return start;
}

void FinishBatch(Writer& out, size_t start) {
  out.PatchInt32(start + 8, static_cast<int32_t>(out.size() - start - kBatchLengthEnd));
  const uint32_t crc = Crc32c(std::string_view(out.data()).substr(start + kCrcEnd));
  out.PatchInt32(start + kMagicOffset + 1, static_cast<int32_t>(crc));
}

}  // namespace

DecodedBatch DecodeProduceBatch(std::string_view bytes, size_t max_inflated_bytes) {
  if (bytes.size() < kHeaderBytes) {
    if (bytes.size() > kMagicOffset && bytes[kMagicOffset] != 2) {
      return Error(ErrorCode::kUnsupportedForMessageFormat, "record batch magic is not 2");
    }
    return Error(ErrorCode::kCorruptMessage, "record batch shorter than its header");
  }
  Reader header(bytes);
  header.Int64();  // baseOffset: the broker assigns offsets
  const int32_t batch_length = header.Int32();
  header.Int32();  // partitionLeaderEpoch
  const int8_t magic = header.Int8();
  if (magic != 2) {
    return Error(ErrorCode::kUnsupportedForMessageFormat,
                 "record batch magic " + std::to_string(magic) + "; only v2 batches are accepted");
  }
  if (batch_length < static_cast<int32_t>(kHeaderBytes - kBatchLengthEnd) ||
      static_cast<size_t>(batch_length) > bytes.size() - kBatchLengthEnd) {
    return Error(ErrorCode::kCorruptMessage, "record batch length " + std::to_string(batch_length) +
                                                 " does not match the bytes sent");
  }
  const size_t batch_end = kBatchLengthEnd + static_cast<size_t>(batch_length);
  if (batch_end != bytes.size()) {
    return Error(ErrorCode::kInvalidRecord, "a produce must hold exactly one record batch");
  }
  const auto crc = static_cast<uint32_t>(header.Int32());
  if (Crc32c(bytes.substr(kCrcEnd, batch_end - kCrcEnd)) != crc) {
    return Error(ErrorCode::kCorruptMessage, "record batch CRC-32C mismatch");
  }
  const int16_t attributes = header.Int16();
  const int32_t last_offset_delta = header.Int32();
  header.Int64();  // baseTimestamp
  header.Int64();  // maxTimestamp
  const int64_t producer_id = header.Int64();
  const int16_t producer_epoch = header.Int16();
  const int32_t base_sequence = header.Int32();
  const int32_t count = header.Int32();
  if ((attributes & (kTransactional | kControl)) != 0) {
    return Error(ErrorCode::kInvalidRecord, "transactional and control batches are not supported");
  }
  if (count <= 0 || last_offset_delta != count - 1) {
    return Error(ErrorCode::kInvalidRecord,
                 "record batch count " + std::to_string(count) + " and last offset delta " +
                     std::to_string(last_offset_delta) + " disagree or are empty");
  }
  std::string_view section = header.Raw(header.remaining());
  std::string inflated;
  switch (attributes & kCompressionMask) {
    case kCompressionNone:
      break;
    case kCompressionGzip: {
      bool too_large = false;
      if (!Gunzip(section, max_inflated_bytes, inflated, too_large)) {
        return too_large ? Error(ErrorCode::kRecordListTooLarge,
                                 "gzip record batch inflates past " +
                                     std::to_string(max_inflated_bytes) + " bytes")
                         : Error(ErrorCode::kCorruptMessage, "gzip record batch does not inflate");
      }
      section = inflated;
      break;
    }
    default:
      return Error(ErrorCode::kUnsupportedCompressionType,
                   "compression codec " + std::to_string(attributes & kCompressionMask) +
                       " is not supported (only none and gzip)");
  }
  if (static_cast<size_t>(count) > section.size() / kMinRecordBytes) {
    return Error(ErrorCode::kCorruptMessage, "record batch holds fewer bytes than its count needs");
  }
  DecodedBatch out;
  out.producer_id = producer_id;
  out.producer_epoch = producer_epoch;
  out.base_sequence = base_sequence;
  out.records.resize(static_cast<size_t>(count));
  Reader records(section);
  bool bad_delta = false;
  for (int32_t i = 0; i < count; ++i) {
    if (!DecodeRecord(records, i, out.records[static_cast<size_t>(i)], bad_delta)) {
      return Error(ErrorCode::kCorruptMessage, "record " + std::to_string(i) + " is malformed");
    }
  }
  if (records.remaining() != 0) {
    return Error(ErrorCode::kCorruptMessage, "bytes left after the batch's last record");
  }
  if (bad_delta) return Error(ErrorCode::kInvalidRecord, "record offset deltas are not 0..n-1");
  return out;
}

void AppendBatch(Writer& out, int64_t timestamp_ms, const std::vector<OutRecord>& records) {
  static const Headers kNone;
  const int64_t base = records.front().offset;
  const size_t start =
      BeginBatch(out, base, kLogAppendTime, static_cast<int32_t>(records.size()), timestamp_ms);
  for (const OutRecord& r : records) {
    AppendRecord(out, static_cast<int32_t>(r.offset - base), 0, r.key, r.value,
                 r.headers != nullptr ? *r.headers : kNone, r.header_count);
  }
  FinishBatch(out, start);
}

std::string EncodeProducerBatch(const std::vector<KafkaRecord>& records, bool gzip,
                                int64_t timestamp_ms) {
  Writer section;
  for (size_t i = 0; i < records.size(); ++i) {
    const KafkaRecord& r = records[i];
    AppendRecord(section, static_cast<int32_t>(i), 0,
                 r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
                 r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, r.headers,
                 r.headers.size());
  }
  std::string body = section.Take();
  if (gzip) {
    std::string compressed;
    if (Gzip(body, compressed)) body = std::move(compressed);
  }
  Writer out;
  const size_t start = BeginBatch(out, 0, gzip ? kCompressionGzip : kCompressionNone,
                                  static_cast<int32_t>(records.size()), timestamp_ms);
  out.Raw(body);
  FinishBatch(out, start);
  return out.Take();
}

}  // namespace broker::kafka
