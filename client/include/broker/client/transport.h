// Transport: what a Client needs from a broker, wherever it runs. In-process (an embedded
// broker::Broker) is here; gRPC (brokerd) and NATS JetStream plug in behind the same interface, so
// service code does not change when the deployment does.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"

namespace broker::client {

class Transport {
 public:
  virtual ~Transport() = default;

  // `done` runs exactly once, possibly on a transport thread; it must not block.
  using PublishCallback = std::function<void(Result<std::vector<PublishResult>>)>;
  virtual void Publish(std::string_view topic, std::vector<Message> messages,
                       const PublishOptions& options, PublishCallback done) = 0;

  // Joins a consumer group; the returned broker::Subscription leases, acks and nacks.
  virtual Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic,
                                                          std::string_view group,
                                                          const SubscribeOptions& options) = 0;

  // Request-reply: an in-memory inbox for replies, and sending a reply to one. `on_closed` runs
  // (once, on a transport thread) if the inbox is lost without being destroyed, e.g. when brokerd
  // restarts: replies to it can no longer arrive.
  virtual Result<std::unique_ptr<Inbox>> OpenInbox(Broker::ReplyHandler on_reply,
                                                   std::function<void(Status)> on_closed) = 0;
  virtual Status SendReply(std::string_view inbox, Message reply) = 0;
  // Whether any group member would receive a request published to `topic`.
  virtual Result<bool> HasSubscribers(std::string_view topic) = 0;
};

// A transport over a broker in this process. `broker` must outlive the transport.
std::unique_ptr<Transport> MakeInProcessTransport(Broker& broker);

}  // namespace broker::client
