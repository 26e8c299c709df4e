// InboxRegistry: the in-memory reply addresses of request-reply.
//
// Thread safety: all methods are thread-safe; mu_ is a leaf lock (handlers run without it).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker/broker.h"

namespace broker {

class InboxRegistry {
 public:
  Result<std::unique_ptr<Inbox>> Open(Broker::ReplyHandler on_reply);
  Status Send(std::string_view address, Message reply);

 private:
  class InboxImpl;
  void Close(const std::string& address);

  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Broker::ReplyHandler>> inboxes_;  // guarded by mu_
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace broker
