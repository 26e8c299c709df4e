// Fixed-width integer encoding used by the on-disk format (docs/storage_format.md):
// big-endian in keys (so byte order equals numeric order), little-endian in values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace broker::storage {

inline void PutBigEndian32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out.append(b, 4);
}
inline void PutBigEndian64(std::string& out, uint64_t v) {
  PutBigEndian32(out, static_cast<uint32_t>(v >> 32));
  PutBigEndian32(out, static_cast<uint32_t>(v));
}
inline uint32_t GetBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}
inline uint64_t GetBigEndian64(const char* p) {
  return (uint64_t{GetBigEndian32(p)} << 32) | GetBigEndian32(p + 4);
}

inline void PutLittle32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
inline void PutLittle64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}

// Reads little-endian fields from a value, tracking whether it ran past the end (corruption).
class ValueReader {
 public:
  explicit ValueReader(std::string_view data) : data_(data) {}
  bool ReadLittle32(uint32_t& v) {
    if (data_.size() - pos_ < 4) return Fail();
    v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(data_[pos_ + i])} << (8 * i);
    pos_ += 4;
    return true;
  }
  bool ReadLittle64(uint64_t& v) {
    if (data_.size() - pos_ < 8) return Fail();
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(data_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return true;
  }
  bool ReadByte(uint8_t& v) {
    if (pos_ >= data_.size()) return Fail();
    v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  // A length-prefixed (little-endian u32) byte string.
  bool ReadBytes(std::string_view& v) {
    uint32_t n = 0;
    if (!ReadLittle32(n)) return false;
    if (data_.size() - pos_ < n) return Fail();
    v = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool ok() const { return ok_; }
  bool done() const { return pos_ == data_.size(); }
  size_t position() const { return pos_; }

 private:
  bool Fail() {
    ok_ = false;
    return false;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

inline void PutBytes(std::string& out, std::string_view v) {
  PutLittle32(out, static_cast<uint32_t>(v.size()));
  out.append(v);
}

}  // namespace broker::storage
