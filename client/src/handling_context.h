// The message being handled on this thread, so what a handler publishes or requests inherits its
// traceparent and correlation_id without the handler passing them along.
//
// Thread safety: thread-local by design.
#pragma once

#include "broker/client/client.h"

namespace broker::client::internal {

const ReceivedMessage* CurrentMessage();

// Sets the current message for the lifetime of the scope.
class ScopedCurrentMessage {
 public:
  explicit ScopedCurrentMessage(const ReceivedMessage* message);
  ~ScopedCurrentMessage();
  ScopedCurrentMessage(const ScopedCurrentMessage&) = delete;
  ScopedCurrentMessage& operator=(const ScopedCurrentMessage&) = delete;

 private:
  const ReceivedMessage* previous_;
};

// Adds traceparent and correlation_id from the current message to `headers` where absent.
// `with_correlation` false leaves correlation_id alone (requests carry their own).
void PropagateContext(Headers& headers, bool with_correlation);

bool HasHeader(const Headers& headers, std::string_view name);

}  // namespace broker::client::internal
