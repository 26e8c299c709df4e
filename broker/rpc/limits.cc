#include "rpc/limits.h"

#include <algorithm>
#include <charconv>

namespace broker::rpc {
namespace {

// A version tag, so the format can change.
constexpr std::string_view kPageTokenPrefix = "dl1.";

}  // namespace

uint32_t DeadLettersPageSize(uint32_t limit) {
  return limit == 0 ? kDefaultDeadLettersPage : std::min(limit, kMaxDeadLettersPage);
}

std::string EncodeDeadLettersPageToken(Offset from) {
  return std::string(kPageTokenPrefix) + std::to_string(from.value());
}

Result<Offset> DecodeDeadLettersPageToken(std::string_view token) {
  if (token.empty()) return Offset(0);
  if (token.starts_with(kPageTokenPrefix) && token.size() > kPageTokenPrefix.size()) {
    uint64_t offset = 0;
    const char* end = token.data() + token.size();
    const auto [at, ec] = std::from_chars(token.data() + kPageTokenPrefix.size(), end, offset);
    if (ec == std::errc() && at == end) return Offset(offset);
  }
  return Status::InvalidArgument(
      "page_token is not one ListDeadLetters returned; leave it empty for the first page");
}

}  // namespace broker::rpc
