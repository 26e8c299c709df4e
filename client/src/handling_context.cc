#include "handling_context.h"

#include "broker/client/headers.h"

namespace broker::client {

std::optional<std::string_view> ReceivedMessage::Header(std::string_view name) const {
  for (const auto& [key, value] : record.headers) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

namespace internal {
namespace {
thread_local const ReceivedMessage* current_message = nullptr;
}  // namespace

const ReceivedMessage* CurrentMessage() { return current_message; }

ScopedCurrentMessage::ScopedCurrentMessage(const ReceivedMessage* message)
    : previous_(current_message) {
  current_message = message;
}

ScopedCurrentMessage::~ScopedCurrentMessage() { current_message = previous_; }

bool HasHeader(const Headers& headers, std::string_view name) {
  for (const auto& header : headers) {
    if (header.first == name) return true;
  }
  return false;
}

void PropagateContext(Headers& headers, bool with_correlation) {
  const ReceivedMessage* current = CurrentMessage();
  if (current == nullptr) return;
  auto copy = [&](std::string_view name) {
    if (HasHeader(headers, name)) return;
    if (auto value = current->Header(name)) headers.emplace_back(std::string(name), std::string(*value));
  };
  copy(kTraceparentHeader);
  if (with_correlation) copy(kCorrelationIdHeader);
}

}  // namespace internal
}  // namespace broker::client
