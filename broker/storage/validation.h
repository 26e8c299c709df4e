// Checks of user input that need no stored state. Each failure is kInvalidArgument (or
// kResourceExhausted for sizes) with a message saying what was wrong and what is allowed.
#pragma once

#include <chrono>
#include <string_view>

#include "broker/options.h"
#include "broker/status.h"
#include "broker/types.h"

namespace broker::storage {

inline constexpr size_t kMaxTopicNameLength = 200;
inline constexpr uint32_t kMaxPartitions = 4096;
// Longest duration accepted from a user (retention age, ack timeout, backoff, nack delay): 100
// years. Durations are converted to microseconds and added to timestamps, which would overflow
// (undefined behaviour) for values near the int64 range of milliseconds the wire allows.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24 * 365 * 100);

// Topic names match [A-Za-z0-9._-]{1,200}.
Status ValidateTopicName(std::string_view name);
Status ValidateTopicConfig(const TopicConfig& config, const Limits& limits);
// `max_message_bytes` is the effective limit (the topic's, else the broker's).
Status ValidateMessage(const Message& message, const Limits& limits, size_t max_message_bytes);

}  // namespace broker::storage
