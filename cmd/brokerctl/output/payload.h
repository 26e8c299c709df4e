// Safe rendering of untrusted bytes (payloads, keys, header values) for a terminal or JSON.
// Text is shown as text only if it is valid UTF-8 without control characters that could move the
// cursor or change the terminal (escape sequences); anything else is shown as hex or base64.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace brokerctl {

enum class BytesFormat {
  kAuto,    // printable UTF-8 as text, else hex
  kText,    // text, with non-printable bytes escaped as \xNN
  kHex,     // hex dump (offsets, 16 bytes a line, ASCII gutter)
  kBase64,  // standard base64
};

// "auto", "text", "hex", "base64" (as --format spells them); anything else is kAuto.
BytesFormat BytesFormatFromName(std::string_view name);

// Valid UTF-8 with no control characters other than tab, newline and carriage return.
bool IsPrintableUtf8(std::string_view bytes);
// Valid UTF-8 (any code points): JSON can carry it as a string.
bool IsValidUtf8(std::string_view bytes);

std::string Base64(std::string_view bytes);
// "00ff1a..." (lowercase, no separators).
std::string Hex(std::string_view bytes);
// xxd-style dump: "00000000  7b 22 69 64 ...  {"id..." lines, each ending in '\n'.
std::string HexDump(std::string_view bytes);

// One table cell: printable text with \n, \r, \t escaped; otherwise "0x" + hex. Cut to
// `max_chars` characters with "..." appended.
std::string SafeOneLine(std::string_view bytes, size_t max_chars = 60);

// A multi-line rendering of a payload for `dlq peek`, `msg show` and `tail`. At most `max_bytes`
// bytes are shown (0 = all); `label` says what was chosen, e.g. "text, 42 bytes" or
// "binary, 16 bytes, hex" (and "first 4096 of 10000 bytes" when cut).
struct RenderedBytes {
  std::string label;
  std::string body;  // ends with '\n' unless empty
};
RenderedBytes RenderPayload(std::string_view bytes, BytesFormat format, size_t max_bytes);

// For JSON: {"encoding": "utf8", ...} if valid UTF-8, else base64.
struct EncodedBytes {
  const char* encoding;  // "utf8" or "base64"
  std::string data;
};
EncodedBytes EncodeForJson(std::string_view bytes);

}  // namespace brokerctl
