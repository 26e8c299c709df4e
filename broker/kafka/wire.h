// The Kafka wire's primitive types (https://kafka.apache.org/protocol#protocol_types): big-endian
// integers, zig-zag varints, length-prefixed strings and bytes, arrays, and the compact forms and
// tagged fields of flexible versions. Reader never reads past its input: a short or malformed
// input sets failed() and every later read returns a zero value, so a decoder checks once at the
// end instead of after every field.
//
// Thread safety: plain values; one thread per object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace broker::kafka {

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  int8_t Int8();
  int16_t Int16();
  int32_t Int32();
  int64_t Int64();
  bool Bool() { return Int8() != 0; }
  uint32_t UnsignedVarint();
  int32_t Varint();   // zig-zag
  int64_t Varlong();  // zig-zag
  // STRING (int16 length); a negative length fails unless nullable.
  std::string String();
  std::optional<std::string> NullableString();
  // COMPACT_STRING / COMPACT_NULLABLE_STRING (unsigned varint length + 1).
  std::string CompactString();
  std::optional<std::string> CompactNullableString();
  // BYTES with int32 length; nullopt for a null (length -1).
  std::optional<std::string_view> NullableBytes();
  // The next `n` bytes.
  std::string_view Raw(size_t n);
  // An array's element count (int32); -1 (null) reads as 0 and sets `*null` if given. A count
  // larger than the bytes left could hold (every element takes at least `min_element_bytes`)
  // fails, so a hostile count cannot make a decoder reserve gigabytes.
  int32_t ArrayLength(size_t min_element_bytes, bool* null = nullptr);
  int32_t CompactArrayLength(size_t min_element_bytes);
  // Skips a flexible version's tagged fields (none of which we read).
  void SkipTaggedFields();

  void Fail() { failed_ = true; }
  bool failed() const { return failed_; }
  size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  bool Need(size_t n);
  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

class Writer {
 public:
  void Int8(int8_t v) { out_.push_back(static_cast<char>(v)); }
  void Int16(int16_t v);
  void Int32(int32_t v);
  void Int64(int64_t v);
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void UnsignedVarint(uint32_t v);
  void Varint(int32_t v);
  void Varlong(int64_t v);
  void String(std::string_view s);
  void NullableString(const std::optional<std::string>& s);
  void CompactString(std::string_view s);
  void NullableBytes(const std::optional<std::string_view>& b);
  void Raw(std::string_view b) { out_.append(b); }
  void EmptyTaggedFields() { UnsignedVarint(0); }
  // Overwrites 4 bytes at `pos` (a length or checksum written after what it covers).
  void PatchInt32(size_t pos, int32_t v);

  size_t size() const { return out_.size(); }
  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Bytes a zig-zag varint of `v` takes.
size_t VarintSize(int64_t v);

}  // namespace broker::kafka
