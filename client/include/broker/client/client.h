// broker::client: the API service code uses to publish, consume and do request-reply, the same
// whether the broker is embedded, behind brokerd (gRPC) or, later, a NATS JetStream cluster.
//
//   auto client = broker::client::Client::Embedded(*broker);
//   client->Publish("order.completed", {.key = "42", .payload = json}).get();
//   auto consumer = client->Subscribe("order.completed", "email",
//       [](const ReceivedMessage& m) { SendEmail(m.record.payload); },   // throw -> nack + backoff
//       {.concurrency = 4});
//   auto reply = client->Request("payments.authorize", body, std::chrono::seconds(2)).get();
//
// Thread safety: every method may be called from any thread. Handlers run on the consumer's
// handler threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "broker/client/transport.h"

namespace broker::client {

struct ClientOptions {
  // Source of time for request deadlines (wall clock: deadlines cross processes). Default: system.
  std::shared_ptr<Clock> clock;
  // How long Close() lets in-flight handlers of every consumer finish. Default 10 s.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(10);
};

// A message as a handler sees it.
struct ReceivedMessage {
  std::string topic;
  std::string group;
  Record record;
  uint32_t attempt = 0;  // 1 on first delivery
  // The first header of that name, or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Manual settling, for handlers subscribed with SubscribeManual. Each method settles at most once;
// a second call fails with kFailedPrecondition.
class MessageContext {
 public:
  virtual ~MessageContext() = default;
  virtual const ReceivedMessage& message() const = 0;
  virtual Status Ack() = 0;
  virtual Status Nack(std::optional<std::chrono::milliseconds> delay = std::nullopt,
                      std::string error = "") = 0;
  virtual Result<TimePoint> Extend() = 0;
  virtual Status Reject(std::string reason) = 0;
};

struct ConsumerOptions {
  // Member name, unique in the group. Empty: generated.
  std::string member;
  // Handler threads. Default 1.
  uint32_t concurrency = 1;
  // Most messages leased to this consumer at once (delivered and not yet settled). Default 256.
  uint32_t max_in_flight = 256;
  // Most leased messages waiting for a free handler thread (leased, not yet started), so a slow
  // consumer does not sit on messages another member of the group could handle now. 0 (default):
  // automatic: `concurrency` (so at most 2 x concurrency held) while handlers are slow, growing to
  // about what the handlers finish in 100 ms when they are fast. Always within max_in_flight.
  uint32_t prefetch = 0;
  // Lease management: every message this consumer holds, queued or running, has its lease
  // extended before it expires (when half the group's ack_timeout is left), so a slow handler is
  // never redelivered to another member while it runs. For at most this long per message (from
  // when it was leased): past it the lease of a running handler's message is no longer extended,
  // so it expires as it would without lease management (a failed attempt: redelivery with the
  // group's backoff, or a dead letter), and a queued one is released. This bounds a hung handler
  // when there is no handler_timeout. Default 60 min.
  std::chrono::milliseconds max_lease_extension = std::chrono::minutes(60);
  // Group settings (ordering, ack_timeout, max_deliveries, backoff, start), used if this
  // subscription creates the group.
  GroupConfig group;
  // A handler running longer than this is abandoned: its message is nacked with
  // "handler timed out" and its late outcome ignored. 0 (default) = no limit.
  std::chrono::milliseconds handler_timeout{0};
  // Close() releases what is queued (back to the group, attempt not counted), lets running
  // handlers finish for this long (their leases still extended), then nacks what is unfinished.
  // 10 s.
  std::chrono::milliseconds close_timeout = std::chrono::seconds(10);
};

struct ConsumerStats {
  uint64_t delivered = 0;  // leased to this consumer (handed to a handler or queued for one)
  uint64_t acked = 0;
  uint64_t nacked = 0;      // handler threw (or timed out, or unfinished at close)
  uint64_t timed_out = 0;   // handler exceeded handler_timeout
  // Leased but never handed to a handler (queued at Close(), or held past max_lease_extension):
  // given back to the group with the attempt not counted.
  uint64_t released = 0;
  uint64_t lease_extensions = 0;  // leases extended (one per message per extension)
  // Held messages whose lease ended anyway (the broker refused the extension, e.g. the connection
  // was lost): a queued one is dropped without running, as another member may have it now.
  uint64_t leases_lost = 0;
  // Running handlers whose lease was left to expire at max_lease_extension.
  uint64_t lease_limit_reached = 0;
  uint64_t dropped_expired_requests = 0;  // Serve: requests past their deadline, not handled
  uint64_t undeliverable_replies = 0;     // Serve: the requester's inbox was gone
};

// A running subscription. Destroying it closes it.
class Consumer {
 public:
  virtual ~Consumer() = default;
  virtual const std::string& member() const = 0;
  // Stops taking messages; releases what is queued (another member gets it at once, with the same
  // attempt number: no handler saw it); lets in-flight handlers finish within `timeout`, their
  // leases kept alive; nacks what is unfinished; leaves the group. Idempotent.
  virtual Status Close(std::optional<std::chrono::milliseconds> timeout = std::nullopt) = 0;
  virtual ConsumerStats stats() const = 0;
  // Blocks until `condition` holds for stats() (checked at once and at every change, never by
  // polling) or `timeout` passes; returns whether it held. E.g. wait until a batch is acked.
  virtual bool WaitForStats(const std::function<bool(const ConsumerStats&)>& condition,
                            std::chrono::milliseconds timeout) const = 0;
};

struct Reply {
  std::string payload;
  Headers headers;
};

struct ClientStats {
  uint64_t requests = 0;
  uint64_t late_replies = 0;  // a reply after the first, or after the request timed out: dropped
};

class Client {
 public:
  static std::unique_ptr<Client> Connect(std::unique_ptr<Transport> transport,
                                         ClientOptions options = {});
  // A client over a broker in this process; `broker` must outlive the client.
  static std::unique_ptr<Client> Embedded(Broker& broker, ClientOptions options = {});

  virtual ~Client() = default;  // Close()

  // Appends one message; the future holds its (partition, offset). Sets the message_id header
  // from the idempotency key, and traceparent/correlation_id from the message being handled on
  // this thread, if the message has none.
  virtual std::future<Result<PublishResult>> Publish(std::string_view topic, Message message,
                                                     const PublishOptions& options = {}) = 0;
  virtual std::future<Result<std::vector<PublishResult>>> PublishBatch(
      std::string_view topic, std::vector<Message> messages, const PublishOptions& options = {}) = 0;

  // Handler returns normally -> ack; throws -> nack with the group's backoff, the exception text
  // kept as the message's last error (dlq.last_error once it is dead-lettered).
  using Handler = std::function<void(const ReceivedMessage&)>;
  virtual Result<std::unique_ptr<Consumer>> Subscribe(std::string_view topic, std::string_view group,
                                                      Handler handler,
                                                      const ConsumerOptions& options = {}) = 0;
  // The handler settles through the context. A message it leaves unsettled is redelivered when
  // its lease expires; one it throws on is nacked.
  using ManualHandler = std::function<void(MessageContext&)>;
  virtual Result<std::unique_ptr<Consumer>> SubscribeManual(std::string_view topic,
                                                            std::string_view group,
                                                            ManualHandler handler,
                                                            const ConsumerOptions& options = {}) = 0;

  // Publishes a request carrying reply_to (this client's inbox), correlation_id and deadline, and
  // waits for the first reply. kNoResponders at once if no group serves `topic`;
  // kDeadlineExceeded after `timeout`; a responder's exception as kAborted with its text.
  virtual std::future<Result<Reply>> Request(std::string_view topic, std::string payload,
                                             std::chrono::milliseconds timeout,
                                             Headers headers = {}) = 0;
  // Answers requests on `topic` in consumer group `group`. Requests past their deadline are
  // dropped (acked, counted) without calling the handler.
  using RequestHandler = std::function<Reply(const ReceivedMessage& request)>;
  virtual Result<std::unique_ptr<Consumer>> Serve(std::string_view topic, std::string_view group,
                                                  RequestHandler handler,
                                                  const ConsumerOptions& options = {}) = 0;

  // Fails pending requests with kCancelled; later calls fail with kFailedPrecondition. Consumers
  // are closed by their own handles.
  virtual void Close() = 0;
  virtual ClientStats stats() const = 0;
  // As Consumer::WaitForStats, for this client's request counters.
  virtual bool WaitForStats(const std::function<bool(const ClientStats&)>& condition,
                            std::chrono::milliseconds timeout) const = 0;
};

}  // namespace broker::client
