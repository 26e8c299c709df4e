#include "storage/validation.h"

#include <string>

#include "storage/record_codec.h"

namespace broker::storage {
namespace {

bool IsTopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xf]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 0xf]);
    }
  }
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

Status ValidateTopicName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("topic name is empty; use 1-200 of [A-Za-z0-9._-]");
  if (name.size() > kMaxTopicNameLength) {
    return Status::InvalidArgument("topic name is " + std::to_string(name.size()) +
                                   " characters long; the limit is 200");
  }
  for (char c : name) {
    if (!IsTopicChar(c)) {
      return Status::InvalidArgument("topic name '" + Printable(name) + "' contains '" +
                                     Printable(std::string_view(&c, 1)) +
                                     "'; allowed are letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidateTopicConfig(const TopicConfig& config, const Limits& limits) {
  if (config.partitions == 0 || config.partitions > kMaxPartitions) {
    return Status::InvalidArgument("partitions must be between 1 and " +
                                   std::to_string(kMaxPartitions) + ", got " +
                                   std::to_string(config.partitions));
  }
  if (config.retention_age.count() < 0) {
    return Status::InvalidArgument("retention age must not be negative (0 keeps records forever)");
  }
  if (config.retention_age > kMaxDuration) {
    return Status::InvalidArgument(
        "retention age must be at most 100 years (0 keeps records forever)");
  }
  switch (config.retention) {
    case RetentionPolicy::kLimits:
      if (config.max_bytes != 0) {
        return Status::InvalidArgument(
            "max_bytes applies to interest retention only; a limits topic caps its size with "
            "retention_bytes (which deletes the oldest records instead of refusing publishes)");
      }
      break;
    case RetentionPolicy::kInterest:
      if (config.retention_bytes != 0) {
        return Status::InvalidArgument(
            "retention_bytes applies to limits retention only; an interest topic deletes what "
            "every group settled and caps its size with max_bytes");
      }
      break;
  }
  if (config.max_message_bytes > limits.max_message_bytes) {
    return Status::InvalidArgument("topic max message size " +
                                   std::to_string(config.max_message_bytes) +
                                   " exceeds the broker's limit of " +
                                   std::to_string(limits.max_message_bytes) + " bytes");
  }
  return Status::Ok();
}

Status ValidateMessage(const Message& message, const Limits& limits, size_t max_message_bytes) {
  if (message.headers.size() > limits.max_headers) {
    return Status::InvalidArgument("message has " + std::to_string(message.headers.size()) +
                                   " headers; the limit is " + std::to_string(limits.max_headers));
  }
  const size_t header_bytes = HeaderBytes(message.headers);
  if (header_bytes > limits.max_header_bytes) {
    return Status::InvalidArgument("message headers take " + std::to_string(header_bytes) +
                                   " bytes; the limit is " +
                                   std::to_string(limits.max_header_bytes));
  }
  for (const auto& header : message.headers) {
    if (header.first.empty()) return Status::InvalidArgument("a header name is empty");
  }
  const size_t size = MessageSize(message);
  if (size > max_message_bytes) {
    return Status::InvalidArgument("message is " + std::to_string(size) +
                                   " bytes (key + payload + headers); the limit is " +
                                   std::to_string(max_message_bytes));
  }
  if (message.idempotency_key.size() > limits.max_idempotency_key_bytes) {
    return Status::InvalidArgument("idempotency key is " +
                                   std::to_string(message.idempotency_key.size()) +
                                   " bytes; the limit is " +
                                   std::to_string(limits.max_idempotency_key_bytes));
  }
  return Status::Ok();
}

}  // namespace broker::storage
