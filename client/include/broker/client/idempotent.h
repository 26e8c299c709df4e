// Idempotent consumers: at-least-once delivery means a handler may see a message twice (a crash
// between its side effect and the ack). Wrapping the handler with IdempotentHandler skips message
// ids it has already processed successfully, remembered in a persistent, bounded store.
//
// The message id is the message_id header (set by Client::Publish from the idempotency key), or
// "<topic>/<partition>/<offset>@<publish time in µs>" without one: the publish time keeps a message
// of a topic deleted and created again (offsets restart at 0) from taking an old message's id.
//
// Thread safety: ProcessedStore is thread-safe; the wrapped handler may run on several threads. Two
// deliveries of one id at the same moment are serialised: the second waits for the first's outcome.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "broker/client/client.h"

namespace broker::client {

class ProcessedStore {
 public:
  // Opens (or creates) a store in `directory` remembering the last `capacity` ids (oldest are
  // forgotten first). Default capacity 1,000,000.
  static Result<std::shared_ptr<ProcessedStore>> Open(const std::string& directory,
                                                      size_t capacity = 1000000);
  virtual ~ProcessedStore() = default;
  virtual Result<bool> Contains(std::string_view id) = 0;
  // Records `id` durably (fsynced) as processed.
  virtual Status Add(std::string_view id) = 0;
  virtual size_t size() const = 0;
};

std::string MessageIdOf(const ReceivedMessage& message);

// Runs `handler` only for ids not in `store`; records the id after the handler returns normally.
// A store error makes the delivery fail (nack), so nothing is skipped on a guess.
Client::Handler IdempotentHandler(std::shared_ptr<ProcessedStore> store, Client::Handler handler);

}  // namespace broker::client
