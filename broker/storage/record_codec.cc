#include "storage/record_codec.h"

#include "storage/byte_order.h"

namespace broker::storage {
namespace {
constexpr size_t kBatchHeaderSize = 1 + 4;  // format, count
constexpr uint8_t kFlagHasKey = 1;
}  // namespace

BatchEncoder::BatchEncoder() { data_.assign(kBatchHeaderSize, '\0'); }

size_t BatchEncoder::Add(const Message& message, TimePoint timestamp) {
  const size_t before = data_.size();
  PutLittle64(data_, static_cast<uint64_t>(timestamp.time_since_epoch().count()));
  data_.push_back(static_cast<char>(message.key ? kFlagHasKey : 0));
  if (message.key) PutBytes(data_, *message.key);
  PutLittle32(data_, static_cast<uint32_t>(message.headers.size()));
  for (const auto& [name, value] : message.headers) {
    PutBytes(data_, name);
    PutBytes(data_, value);
  }
  PutBytes(data_, message.payload);
  ++count_;
  if (timestamp > max_timestamp_) max_timestamp_ = timestamp;
  return data_.size() - before;
}

std::string_view BatchEncoder::Seal() {
  data_[0] = static_cast<char>(kBatchFormat);
  for (int i = 0; i < 4; ++i) data_[1 + i] = static_cast<char>(count_ >> (8 * i));
  return data_;
}

void BatchEncoder::Reset() {
  data_.assign(kBatchHeaderSize, '\0');  // keeps the capacity
  count_ = 0;
  max_timestamp_ = TimePoint{};
}

std::string BatchEncoder::Finish() {
  Seal();
  std::string out = std::move(data_);
  Reset();
  return out;
}

BatchDecoder::BatchDecoder(std::string_view value) : value_(value) {
  ValueReader r(value_);
  uint8_t format = 0;
  if (!r.ReadByte(format) || format != kBatchFormat || !r.ReadLittle32(count_)) {
    corrupt_ = true;
    count_ = 0;
    return;
  }
  pos_ = r.position();
}

void BatchDecoder::Resume(size_t position, uint32_t seen) {
  if (corrupt_) return;
  if (position > value_.size() || seen > count_) {
    corrupt_ = true;
    return;
  }
  pos_ = position;
  seen_ = seen;
}

bool BatchDecoder::Next(RecordView& out) {
  if (corrupt_ || seen_ == count_) return false;
  ValueReader r(value_.substr(pos_));
  uint64_t ts = 0;
  uint8_t flags = 0;
  bool ok = r.ReadLittle64(ts) && r.ReadByte(flags);
  out.has_key = (flags & kFlagHasKey) != 0;
  out.key = {};
  if (ok && out.has_key) ok = r.ReadBytes(out.key);
  ok = ok && r.ReadLittle32(out.header_count);
  const size_t headers_begin = r.position();
  for (uint32_t i = 0; ok && i < out.header_count; ++i) {
    std::string_view name, value;
    ok = r.ReadBytes(name) && r.ReadBytes(value);
  }
  if (ok) out.headers_data = value_.substr(pos_ + headers_begin, r.position() - headers_begin);
  ok = ok && r.ReadBytes(out.payload);
  if (!ok) {
    corrupt_ = true;
    return false;
  }
  out.timestamp = TimePoint(std::chrono::microseconds(static_cast<int64_t>(ts)));
  out.encoded_size = r.position();
  pos_ += r.position();
  ++seen_;
  return true;
}

bool DecodeHeaders(const RecordView& view, Headers& out) {
  ValueReader r(view.headers_data);
  out.clear();
  out.reserve(view.header_count);
  for (uint32_t i = 0; i < view.header_count; ++i) {
    std::string_view name, value;
    if (!r.ReadBytes(name) || !r.ReadBytes(value)) return false;
    out.emplace_back(std::string(name), std::string(value));
  }
  return r.done();
}

std::string EncodeIndexEntry(const BatchIndexEntry& entry) {
  std::string out;
  out.reserve(20);
  PutLittle32(out, entry.count);
  PutLittle64(out, entry.bytes);
  PutLittle64(out, static_cast<uint64_t>(entry.max_timestamp.time_since_epoch().count()));
  return out;
}

bool DecodeIndexEntry(std::string_view value, BatchIndexEntry& out) {
  ValueReader r(value);
  uint64_t ts = 0;
  if (!r.ReadLittle32(out.count) || !r.ReadLittle64(out.bytes) || !r.ReadLittle64(ts) || !r.done()) {
    return false;
  }
  out.max_timestamp = TimePoint(std::chrono::microseconds(static_cast<int64_t>(ts)));
  return true;
}

size_t HeaderBytes(const Headers& headers) {
  size_t n = 0;
  for (const auto& [name, value] : headers) n += name.size() + value.size();
  return n;
}

size_t MessageSize(const Message& message) {
  return (message.key ? message.key->size() : 0) + message.payload.size() +
         HeaderBytes(message.headers);
}

}  // namespace broker::storage
