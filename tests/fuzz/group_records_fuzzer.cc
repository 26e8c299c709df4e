// Fuzz target: the "groups" column family's key parser and value codecs
// (delivery/group_records.h), which the delivery manager decodes for every group, cursor, unsettled
// message and dead letter when a broker opens.
//
// Input: byte 0 picks the decoder, the rest is the stored key or value:
//   0: ParseGroupKey   1: GroupRecord   2: CursorRecord   3: MessageRecord   4: DeadRecord
//   5: LeaseRunRecord
// Properties beyond "no crash": a parsed key is rebuilt byte for byte from its parts; a decoded
// value re-encodes to its own bytes where every field is stored at full width (group, cursor and
// lease-run records), and otherwise re-encodes to a canonical form that is a fixed point of decode+encode.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/group_records.h"
#include "fuzz_check.h"

namespace broker::delivery {
namespace {

void CheckGroupKey(std::string_view key) {
  ParsedGroupKey parsed;
  if (!ParseGroupKey(key, parsed)) return;
  FUZZ_CHECK(parsed.group.find('\0') == std::string::npos);
  FUZZ_CHECK(GroupKeyPrefix(parsed.kind, parsed.topic, parsed.group) + std::string(parsed.rest) ==
             key);
}

// decode(value) -> encode -> decode -> encode gives the same bytes both times; `exact` also asks
// that the first encoding is `value` itself.
template <typename Record, typename Decode, typename Encode>
void CheckValue(std::string_view value, Decode decode, Encode encode, bool exact) {
  Record record;
  if (!decode(value, record)) return;
  const std::string canonical = encode(record);
  if (exact) FUZZ_CHECK(canonical == value);
  Record again;
  FUZZ_CHECK(decode(canonical, again));
  FUZZ_CHECK(encode(again) == canonical);
}

}  // namespace
}  // namespace broker::delivery

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace broker::delivery;  // NOLINT(build/namespaces): this file tests that namespace
  if (size == 0) return 0;
  const std::string_view value(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      CheckGroupKey(value);
      break;
    case 1:  // version 1 (before serves_requests) is read and re-encoded as version 2
      CheckValue<GroupRecord>(value, DecodeGroupRecord, EncodeGroupRecord,
                              /*exact=*/value.substr(0, 4) == std::string_view("\2\0\0\0", 4));
      break;
    case 2:
      CheckValue<CursorRecord>(value, DecodeCursorRecord, EncodeCursorRecord, /*exact=*/true);
      break;
    case 3:  // has_key is stored as a byte: any non-zero value reads as true
      CheckValue<MessageRecord>(value, DecodeMessageRecord, EncodeMessageRecord, /*exact=*/false);
      break;
    case 4:  // `purged` is an optional trailing byte (older records lack it)
      CheckValue<DeadRecord>(value, DecodeDeadRecord, EncodeDeadRecord, /*exact=*/false);
      break;
    case 5:  // unused bits of the bitmap must be zero, so every field round-trips
      CheckValue<LeaseRunRecord>(value, DecodeLeaseRunRecord, EncodeLeaseRunRecord,
                                 /*exact=*/true);
      break;
  }
  return 0;
}
