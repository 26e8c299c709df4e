#include "kafka/wire.h"

namespace broker::kafka {
namespace {

template <typename T>
T ReadBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return static_cast<T>(v);
}

template <typename T>
void WriteBigEndian(std::string& out, T value) {
  const auto v = static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(value));
  for (int shift = static_cast<int>(sizeof(T) * 8) - 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

}  // namespace

bool Reader::Need(size_t n) {
  if (failed_ || data_.size() - pos_ < n) {
    failed_ = true;
    return false;
  }
  return true;
}

std::string_view Reader::Raw(size_t n) {
  if (!Need(n)) return {};
  std::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

int8_t Reader::Int8() { return Need(1) ? ReadBigEndian<int8_t>(Raw(1)) : 0; }
int16_t Reader::Int16() { return Need(2) ? ReadBigEndian<int16_t>(Raw(2)) : 0; }
int32_t Reader::Int32() { return Need(4) ? ReadBigEndian<int32_t>(Raw(4)) : 0; }
int64_t Reader::Int64() { return Need(8) ? ReadBigEndian<int64_t>(Raw(8)) : 0; }

uint32_t Reader::UnsignedVarint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (!Need(1)) return 0;
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      if (v > UINT32_MAX) break;
      return static_cast<uint32_t>(v);
    }
  }
  failed_ = true;
  return 0;
}

int64_t Reader::Varlong() {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (!Need(1)) return 0;
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  failed_ = true;
  return 0;
}

int32_t Reader::Varint() {
  const int64_t v = Varlong();
  if (v < INT32_MIN || v > INT32_MAX) {
    failed_ = true;
    return 0;
  }
  return static_cast<int32_t>(v);
}

std::optional<std::string> Reader::NullableString() {
  const int16_t n = Int16();
  if (n < 0) {
    if (n != -1) failed_ = true;
    return std::nullopt;
  }
  return std::string(Raw(static_cast<size_t>(n)));
}

std::string Reader::String() {
  auto s = NullableString();
  if (!s) failed_ = true;
  return s.value_or("");
}

std::optional<std::string> Reader::CompactNullableString() {
  const uint32_t n = UnsignedVarint();
  if (n == 0) return std::nullopt;
  return std::string(Raw(n - 1));
}

std::string Reader::CompactString() {
  auto s = CompactNullableString();
  if (!s) failed_ = true;
  return s.value_or("");
}

std::optional<std::string_view> Reader::NullableBytes() {
  const int32_t n = Int32();
  if (n < 0) {
    if (n != -1) failed_ = true;
    return std::nullopt;
  }
  return Raw(static_cast<size_t>(n));
}

int32_t Reader::ArrayLength(size_t min_element_bytes, bool* null) {
  const int32_t n = Int32();
  if (n == -1) {
    if (null != nullptr) *null = true;
    return 0;
  }
  if (n < 0 || static_cast<size_t>(n) * min_element_bytes > remaining()) {
    failed_ = true;
    return 0;
  }
  return n;
}

int32_t Reader::CompactArrayLength(size_t min_element_bytes) {
  const uint32_t n = UnsignedVarint();
  if (n == 0) return 0;  // null
  if (static_cast<size_t>(n - 1) * min_element_bytes > remaining() || n - 1 > INT32_MAX) {
    failed_ = true;
    return 0;
  }
  return static_cast<int32_t>(n - 1);
}

void Reader::SkipTaggedFields() {
  const uint32_t count = UnsignedVarint();
  for (uint32_t i = 0; i < count && !failed_; ++i) {
    UnsignedVarint();  // tag
    Raw(UnsignedVarint());
  }
}

void Writer::Int16(int16_t v) { WriteBigEndian(out_, v); }
void Writer::Int32(int32_t v) { WriteBigEndian(out_, v); }
void Writer::Int64(int64_t v) { WriteBigEndian(out_, v); }

void Writer::UnsignedVarint(uint32_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Writer::Varlong(int64_t value) {
  uint64_t v = ZigZag(value);
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Writer::Varint(int32_t v) { Varlong(v); }

void Writer::String(std::string_view s) {
  Int16(static_cast<int16_t>(s.size()));
  out_.append(s);
}

void Writer::NullableString(const std::optional<std::string>& s) {
  if (!s) return Int16(-1);
  String(*s);
}

void Writer::CompactString(std::string_view s) {
  UnsignedVarint(static_cast<uint32_t>(s.size() + 1));
  out_.append(s);
}

void Writer::NullableBytes(const std::optional<std::string_view>& b) {
  if (!b) return Int32(-1);
  Int32(static_cast<int32_t>(b->size()));
  out_.append(*b);
}

void Writer::PatchInt32(size_t pos, int32_t v) {
  std::string bytes;
  WriteBigEndian(bytes, v);
  out_.replace(pos, 4, bytes);
}

size_t VarintSize(int64_t value) {
  uint64_t v = ZigZag(value);
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace broker::kafka
