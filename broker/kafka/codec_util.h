// Helpers shared by the request decoders and response encoders (request_codec.cc,
// response_codec.cc, group_codec.cc).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka/wire.h"

namespace broker::kafka::codec {

// Whether a decoder read its whole body without a failure.
inline bool Done(const Reader& in) { return !in.failed() && in.remaining() == 0; }

// Reads an int32-counted array; `min_bytes` is the fewest bytes an element can take, so a hostile
// count fails before anything is reserved.
template <typename T, typename Fn>
void ReadArray(Reader& in, size_t min_bytes, std::vector<T>& out, Fn&& read_one) {
  const int32_t n = in.ArrayLength(min_bytes);
  out.resize(static_cast<size_t>(n));
  for (T& element : out) {
    if (in.failed()) return;
    read_one(element);
  }
}

// Starts a response frame: a size placeholder and the correlation id (response header v0).
inline Writer Begin(int32_t correlation_id) {
  Writer w;
  w.Int32(0);
  w.Int32(correlation_id);
  return w;
}

inline std::string Finish(Writer& w) {
  w.PatchInt32(0, static_cast<int32_t>(w.size() - 4));
  return w.Take();
}

template <typename T, typename Fn>
void WriteArray(Writer& w, const std::vector<T>& items, Fn&& write_one) {
  w.Int32(static_cast<int32_t>(items.size()));
  for (const T& item : items) write_one(item);
}

}  // namespace broker::kafka::codec
