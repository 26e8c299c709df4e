// Header names the client library reads and writes.
#pragma once

#include <string_view>

#include "broker/delivery.h"

namespace broker::client {

// W3C trace context, propagated from a handled message to what its handler publishes or requests.
inline constexpr std::string_view kTraceparentHeader = "traceparent";
// Business correlation id: propagated from a handled message to what its handler publishes.
// Requests carry their own correlation id, used to match the reply.
inline constexpr std::string_view kCorrelationIdHeader = "correlation_id";
// Request-reply: the requester's inbox address.
inline constexpr std::string_view kReplyToHeader = "reply_to";
// Request-reply: absolute deadline, microseconds since the Unix epoch (decimal). The broker reads
// it too, to drop expired requests before delivering them (GroupConfig::serves_requests).
inline constexpr std::string_view kDeadlineHeader = ::broker::kRequestDeadlineHeader;
// A reply carrying a responder's failure: the text of the exception.
inline constexpr std::string_view kErrorHeader = "error";
// Stable id of a message for idempotent consumers; set from the idempotency key when published
// with one.
inline constexpr std::string_view kMessageIdHeader = "message_id";

}  // namespace broker::client
