#include "nats_wire.h"

#include <charconv>

namespace broker::client::nats_internal {
namespace {

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The text after `"name":` in a flat JSON object (whitespace skipped), or empty if absent. Good
// enough for JetStream's publish acknowledgements, whose keys are fixed and never nested twice.
std::string_view FieldValue(std::string_view json, std::string_view name) {
  const std::string quoted = "\"" + std::string(name) + "\"";
  auto at = json.find(quoted);
  if (at == std::string_view::npos) return {};
  at += quoted.size();
  while (at < json.size() && (json[at] == ' ' || json[at] == ':')) ++at;
  return json.substr(at);
}

uint64_t NumberAt(std::string_view text) {
  uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string StringAt(std::string_view text) {
  if (text.empty() || text.front() != '"') return {};
  std::string out;
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out.push_back(text[++i]);
    } else if (text[i] == '"') {
      break;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

std::string PercentEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    if (Unreserved(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<NatsMsgPtr> EncodeMessage(const std::string& subject, const std::string& reply,
                                 const Message& message) {
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), reply.empty() ? nullptr : reply.c_str(),
                                message.payload.data(), static_cast<int>(message.payload.size()));
  if (s != NATS_OK) return FromNats(s, "building a message for " + subject);
  NatsMsgPtr msg(raw);
  if (message.key) {
    s = natsMsgHeader_Set(msg.get(), kKeyHeader, PercentEncode(*message.key).c_str());
  }
  if (s == NATS_OK && !message.headers.empty()) {
    std::string encoded;
    for (const auto& [name, value] : message.headers) {
      if (!encoded.empty()) encoded.push_back('&');
      encoded += PercentEncode(name);
      encoded.push_back('=');
      encoded += PercentEncode(value);
    }
    s = natsMsgHeader_Set(msg.get(), kHeadersHeader, encoded.c_str());
  }
  if (s == NATS_OK && !message.idempotency_key.empty()) {
    s = natsMsgHeader_Set(msg.get(), kMsgIdHeader, PercentEncode(message.idempotency_key).c_str());
  }
  if (s != NATS_OK) return FromNats(s, "setting the headers of a message for " + subject);
  return msg;
}

Record DecodeRecord(natsMsg* msg) {
  Record record;
  const char* data = natsMsg_GetData(msg);
  const int length = natsMsg_GetDataLength(msg);
  if (data != nullptr && length > 0) record.payload.assign(data, static_cast<size_t>(length));
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, kKeyHeader, &value) == NATS_OK && value != nullptr) {
    record.key = PercentDecode(value).value_or(value);
  }
  if (natsMsgHeader_Get(msg, kHeadersHeader, &value) == NATS_OK && value != nullptr) {
    std::string_view rest(value);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      const auto eq = pair.find('=');
      const std::string_view name = pair.substr(0, eq);
      const std::string_view val =
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      record.headers.emplace_back(PercentDecode(name).value_or(std::string(name)),
                                  PercentDecode(val).value_or(std::string(val)));
    }
  }
  return record;
}

PubAck ParsePubAck(std::string_view json) {
  PubAck ack;
  if (std::string_view error = FieldValue(json, "error"); !error.empty()) {
    const uint64_t code = NumberAt(FieldValue(error, "code"));
    const uint64_t err_code = NumberAt(FieldValue(error, "err_code"));
    const std::string text =
        "JetStream refused the publish: " + StringAt(FieldValue(error, "description")) +
        " (code " + std::to_string(code) + ", err_code " + std::to_string(err_code) + ")";
    switch (code) {
      case 400:
        ack.status = Status::InvalidArgument(text);
        break;
      case 404:
        ack.status = Status::NotFound(text);
        break;
      case 503:
        ack.status = Status::Unavailable(text);
        break;
      default:
        // Stream full (discard new), store failures and the like.
        ack.status = Status(StatusCode::kResourceExhausted, text);
        break;
    }
    return ack;
  }
  const std::string_view seq = FieldValue(json, "seq");
  if (seq.empty()) {
    ack.status = Status::Internal("unreadable publish acknowledgement: " + std::string(json));
    return ack;
  }
  ack.seq = NumberAt(seq);
  ack.duplicate = FieldValue(json, "duplicate").substr(0, 4) == "true";
  return ack;
}

Status FromNats(natsStatus s, std::string_view what, int js_error) {
  if (s == NATS_OK) return Status::Ok();
  std::string text = std::string(what) + ": " + natsStatus_GetText(s);
  if (js_error != 0) text += " (JetStream error " + std::to_string(js_error) + ")";
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0') {
    text += " [" + std::string(last) + "]";
  }
  if (js_error == JSStreamNotFoundErr || js_error == JSConsumerNotFoundErr) {
    return Status::NotFound(text);
  }
  switch (s) {
    case NATS_TIMEOUT:
      return Status::DeadlineExceeded(text);
    case NATS_NOT_FOUND:
      return Status::NotFound(text);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_TIMEOUT:
    case NATS_INVALID_QUEUE_NAME:
      return Status::InvalidArgument(text);
    case NATS_MAX_PAYLOAD:
      return Status(StatusCode::kResourceExhausted, text);
    case NATS_CONNECTION_AUTH_FAILED:
      return Status::Unauthenticated(text);
    case NATS_NOT_PERMITTED:
      return Status::PermissionDenied(text);
    case NATS_NO_MEMORY:
      return Status(StatusCode::kResourceExhausted, text);
    case NATS_CONNECTION_CLOSED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_IO_ERROR:
    case NATS_NOT_YET_CONNECTED:
    case NATS_DRAINING:
    case NATS_NO_RESPONDERS:
    case NATS_SLOW_CONSUMER:
    case NATS_MISSED_HEARTBEAT:
      return Status::Unavailable(text);
    default:
      // Protocol, TLS, initialisation and internal errors of libnats.
      return Status::Internal(text);
  }
}

}  // namespace broker::client::nats_internal
