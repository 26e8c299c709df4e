// InboxRegistry: the in-memory reply addresses of request-reply. Addresses are "_inbox." and 128
// random bits in hex (unguessable: knowing one is what lets a responder reply).
//
// Thread safety: all methods are thread-safe; mu_ is a leaf lock (handlers run without it).
#pragma once

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
};

}  // namespace broker
