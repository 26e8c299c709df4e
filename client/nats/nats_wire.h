// Messages on the wire, and libnats results as broker Status values.
//
// A record is a NATS message whose data is the payload, byte for byte, so other NATS tools see it
// as published. The broker's key and headers (ordered, repeatable, binary values) do not fit NATS
// headers (a map of text values), so they travel percent-encoded in two NATS headers:
//   Brk-Key: <key>                      present only if the message has a key
//   Brk-Hdr: <name>=<value>&<name>=<value>...
// An idempotency key becomes Nats-Msg-Id (percent-encoded), JetStream's dedupe id.
//
// Thread safety: pure functions; NatsMsgPtr is an owning handle like unique_ptr.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "broker/status.h"
#include "broker/types.h"

namespace broker::client::nats_internal {

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using NatsMsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

inline constexpr const char* kKeyHeader = "Brk-Key";
inline constexpr const char* kHeadersHeader = "Brk-Hdr";
inline constexpr const char* kMsgIdHeader = "Nats-Msg-Id";

std::string PercentEncode(std::string_view bytes);
std::optional<std::string> PercentDecode(std::string_view text);

// A NATS message for `subject` carrying `message` (payload as data; key, headers and idempotency
// key in headers), with `reply` as its reply subject (may be empty).
Result<NatsMsgPtr> EncodeMessage(const std::string& subject, const std::string& reply,
                                 const Message& message);

// The payload, key and headers of a received NATS message (partition, offset and timestamp are
// left for the caller, who knows the JetStream metadata).
Record DecodeRecord(natsMsg* msg);

// JetStream's answer to a publish: {"stream":"s","seq":7,"duplicate":true} or
// {"error":{"code":503,"err_code":10077,"description":"..."}}.
struct PubAck {
  Status status;
  uint64_t seq = 0;
  bool duplicate = false;
};
PubAck ParsePubAck(std::string_view json);

// A libnats status (and JetStream error code, 0 if none) as a broker Status. `what` says what was
// attempted ("publish to orders"); the last libnats error text is appended.
Status FromNats(natsStatus s, std::string_view what, int js_error = 0);

}  // namespace broker::client::nats_internal
