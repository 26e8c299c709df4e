// Transport: what a Client needs from a broker, wherever it runs. In-process (an embedded
// broker::Broker) is here; gRPC (brokerd) and NATS JetStream plug in behind the same interface, so
// service code does not change when the deployment does.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>
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

  // The requester's half of request-reply: publishes `request` (its reply_to is `inbox`, opened
  // by this transport) to `topic` with async durability, and only if some group serves the topic.
  // `on_failed` runs at most once, only if the request was not published (kNoResponders, ...);
  // the transport may forget it after `deadline` or once a reply for `correlation_id` arrived.
  // `alone`: no other request of this client is pending, so the transport may run `on_failed` on
  // the calling thread (in-process: the broker commits the request here instead of waking its
  // writer thread, see PublishOptions::inline_commit).
  // The default is a Publish; over gRPC the request goes on the inbox's own stream.
  virtual void PublishRequest(Inbox& inbox, std::string_view topic, Message request,
                              const std::string& correlation_id,
                              std::chrono::steady_clock::time_point deadline, bool alone,
                              std::function<void(Status)> on_failed);

  // The responder's last step: sends `reply` to `inbox`, then acks delivery `attempt` of
  // partition/offset on `subscription` (opened by this transport). `done(reply, ack)` runs once,
  // possibly on a transport thread, with how each ended. The default is SendReply, then
  // AckAttemptAsync; over gRPC the reply travels in the ack's frame.
  using ReplyAndAckCallback = std::function<void(Status reply, Status ack)>;
  virtual void ReplyAndAck(Subscription& subscription, std::string_view inbox, Message reply,
                           PartitionId partition, Offset offset, uint32_t attempt,
                           ReplyAndAckCallback done);
};

// A transport over a broker in this process. `broker` must outlive the transport.
std::unique_ptr<Transport> MakeInProcessTransport(Broker& broker);

}  // namespace broker::client
