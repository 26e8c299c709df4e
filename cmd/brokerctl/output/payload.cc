#include "output/payload.h"

#include <cstdint>
#include <cstdio>

namespace brokerctl {
namespace {

// Decodes one UTF-8 sequence at bytes[i]; returns its length (0 if invalid) and the code point.
size_t DecodeUtf8(std::string_view bytes, size_t i, uint32_t* code_point) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char lead = b(i);
  size_t length;
  uint32_t cp;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > bytes.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

bool IsControl(uint32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

std::string EscapeByte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\x%02x", c);
  return buf;
}

// Text with every control character (and invalid UTF-8 byte) escaped; newlines kept if asked.
std::string EscapedText(std::string_view bytes, bool keep_newlines) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    uint32_t cp = 0;
    const size_t n = DecodeUtf8(bytes, i, &cp);
    if (n == 0) {
      out += EscapeByte(static_cast<unsigned char>(bytes[i]));
      ++i;
      continue;
    }
    if (cp == '\n') {
      out += keep_newlines ? "\n" : "\\n";
    } else if (cp == '\t') {
      out += keep_newlines ? "\t" : "\\t";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (IsControl(cp)) {
      for (size_t k = 0; k < n; ++k) out += EscapeByte(static_cast<unsigned char>(bytes[i + k]));
    } else {
      out.append(bytes.substr(i, n));
    }
    i += n;
  }
  return out;
}

// The longest prefix of at most `max` bytes that does not cut a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view bytes, size_t max) {
  if (bytes.size() <= max) return bytes;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(bytes[end]) & 0xC0) == 0x80) --end;
  return bytes.substr(0, end);
}

}  // namespace

BytesFormat BytesFormatFromName(std::string_view name) {
  if (name == "text") return BytesFormat::kText;
  if (name == "hex") return BytesFormat::kHex;
  if (name == "base64") return BytesFormat::kBase64;
  return BytesFormat::kAuto;
}

bool IsValidUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    uint32_t cp = 0;
    const size_t n = DecodeUtf8(bytes, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool IsPrintableUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    uint32_t cp = 0;
    const size_t n = DecodeUtf8(bytes, i, &cp);
    if (n == 0) return false;
    if (IsControl(cp) && cp != '\t' && cp != '\n' && cp != '\r') return false;
    i += n;
  }
  return true;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    uint32_t v = b(i) << 16;
    if (rest == 2) v |= b(i + 1) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string HexDump(std::string_view bytes) {
  std::string out;
  char buf[32];
  for (size_t line = 0; line < bytes.size(); line += 16) {
    std::snprintf(buf, sizeof(buf), "%08zx ", line);
    out += buf;
    for (size_t k = 0; k < 16; ++k) {
      if (k == 8) out += ' ';
      if (line + k < bytes.size()) {
        std::snprintf(buf, sizeof(buf), " %02x", static_cast<unsigned char>(bytes[line + k]));
        out += buf;
      } else {
        out += "   ";
      }
    }
    out += "  |";
    for (size_t k = 0; k < 16 && line + k < bytes.size(); ++k) {
      const unsigned char c = static_cast<unsigned char>(bytes[line + k]);
      out += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '.';
    }
    out += "|\n";
  }
  return out;
}

std::string SafeOneLine(std::string_view bytes, size_t max_chars) {
  std::string text = IsPrintableUtf8(bytes) ? EscapedText(bytes, false) : "0x" + Hex(bytes);
  // Cut by characters, not bytes.
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars) {
      text.resize(i);
      text += "...";
      break;
    }
    ++chars;
  }
  return text;
}

RenderedBytes RenderPayload(std::string_view bytes, BytesFormat format, size_t max_bytes) {
  const size_t total = bytes.size();
  const bool printable = IsPrintableUtf8(bytes);
  std::string_view shown = bytes;
  if (max_bytes != 0 && shown.size() > max_bytes) {
    shown = printable ? Utf8Prefix(bytes, max_bytes) : bytes.substr(0, max_bytes);
  }
  std::string size = std::to_string(total) + " bytes";
  if (shown.size() < total) {
    size = "first " + std::to_string(shown.size()) + " of " + std::to_string(total) + " bytes";
  }
  if (format == BytesFormat::kAuto) format = printable ? BytesFormat::kText : BytesFormat::kHex;
  RenderedBytes out;
  const char* kind = printable ? "text" : "binary";
  switch (format) {
    case BytesFormat::kAuto:  // resolved above
    case BytesFormat::kText:
      out.label = std::string(kind) + ", " + size;
      out.body = EscapedText(shown, true);
      break;
    case BytesFormat::kHex:
      out.label = std::string(kind) + ", " + size + ", hex";
      out.body = HexDump(shown);
      break;
    case BytesFormat::kBase64:
      out.label = std::string(kind) + ", " + size + ", base64";
      out.body = Base64(shown);
      break;
  }
  if (!out.body.empty() && out.body.back() != '\n') out.body += '\n';
  return out;
}

EncodedBytes EncodeForJson(std::string_view bytes) {
  if (IsValidUtf8(bytes)) return {"utf8", std::string(bytes)};
  return {"base64", Base64(bytes)};
}

}  // namespace brokerctl
