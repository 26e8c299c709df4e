// Fuzz target: brokerd's tokens file parser (Authorizer::Parse, broker/rpc/auth.h). The input is
// the file's text. It must be accepted or refused with invalid_argument naming the line; nothing
// else (no crash, no exception, no other code).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "rpc/auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = broker::rpc::Authorizer::Parse(text);
  if (parsed.ok()) {
    FUZZ_CHECK(parsed->enabled());
  } else {
    FUZZ_CHECK(parsed.status().code() == broker::StatusCode::kInvalidArgument);
    FUZZ_CHECK(parsed.status().message().starts_with("line "));
  }
  return 0;
}
