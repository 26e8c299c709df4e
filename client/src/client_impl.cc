// ClientImpl: the Client over any Transport.
#include <atomic>
#include <mutex>

#include "broker/client/client.h"
#include "broker/client/headers.h"
#include "consumer_impl.h"
#include "handling_context.h"
#include "requester.h"

namespace broker::client {
namespace {

using internal::ConsumerImpl;
using internal::InFlight;

// MessageContext over one in-flight message.
class ManualContext final : public MessageContext {
 public:
  explicit ManualContext(InFlight& flight) : flight_(flight) {}
  const ReceivedMessage& message() const override { return flight_.message; }
  Status Ack() override {
    Status result;
    return flight_.TryAck(&result) ? result : AlreadySettled();
  }
  Status Nack(std::optional<std::chrono::milliseconds> delay, std::string error) override {
    Status result;
    return flight_.TryNack(delay, error, &result) ? result : AlreadySettled();
  }
  Result<TimePoint> Extend() override {
    if (flight_.settled.load()) return AlreadySettled();
    const Record& r = flight_.message.record;
    return flight_.state->subscription->ExtendAttempt(r.partition, r.offset,
                                                     flight_.message.attempt);
  }
  Status Reject(std::string reason) override {
    Status result;
    return flight_.TryReject(reason, &result) ? result : AlreadySettled();
  }

 private:
  static Status AlreadySettled() {
    return Status::FailedPrecondition("this message is already settled");
  }
  InFlight& flight_;
};

class ClientImpl final : public Client {
 public:
  ClientImpl(std::unique_ptr<Transport> transport, ClientOptions options)
      : transport_(std::move(transport)),
        options_(std::move(options)),
        requester_(*transport_, options_.clock ? options_.clock : Clock::System()) {}
  ~ClientImpl() override { Close(); }

  std::future<Result<std::vector<PublishResult>>> PublishBatch(
      std::string_view topic, std::vector<Message> messages, const PublishOptions& options) override {
    auto promise = std::make_shared<std::promise<Result<std::vector<PublishResult>>>>();
    auto future = promise->get_future();
    if (closed_.load()) {
      promise->set_value(Status::FailedPrecondition("the client is closed; publish refused"));
      return future;
    }
    for (Message& m : messages) {
      internal::PropagateContext(m.headers, /*with_correlation=*/true);
      if (!m.idempotency_key.empty() && !internal::HasHeader(m.headers, kMessageIdHeader)) {
        m.headers.emplace_back(std::string(kMessageIdHeader), m.idempotency_key);
      }
    }
    transport_->Publish(topic, std::move(messages), options,
                        [promise](Result<std::vector<PublishResult>> r) {
                          promise->set_value(std::move(r));
                        });
    return future;
  }

  std::future<Result<PublishResult>> Publish(std::string_view topic, Message message,
                                             const PublishOptions& options) override {
    std::vector<Message> one;
    one.push_back(std::move(message));
    auto batch = std::make_shared<std::future<Result<std::vector<PublishResult>>>>(
        PublishBatch(topic, std::move(one), options));
    return std::async(std::launch::deferred, [batch]() -> Result<PublishResult> {
      auto r = batch->get();
      if (!r.ok()) return r.status();
      return r->front();
    });
  }

  Result<std::unique_ptr<Consumer>> Subscribe(std::string_view topic, std::string_view group,
                                              Handler handler,
                                              const ConsumerOptions& options) override {
    if (!handler) return Status::InvalidArgument("subscribe needs a handler");
    return Start(topic, group, options, [handler = std::move(handler)](InFlight& flight) {
      handler(flight.message);  // a throw becomes a nack in the worker
      flight.TryAck();
    });
  }

  Result<std::unique_ptr<Consumer>> SubscribeManual(std::string_view topic, std::string_view group,
                                                    ManualHandler handler,
                                                    const ConsumerOptions& options) override {
    if (!handler) return Status::InvalidArgument("subscribe needs a handler");
    return Start(topic, group, options, [handler = std::move(handler)](InFlight& flight) {
      ManualContext context(flight);
      handler(context);
    });
  }

  std::future<Result<Reply>> Request(std::string_view topic, std::string payload,
                                     std::chrono::milliseconds timeout, Headers headers) override {
    if (closed_.load()) {
      std::promise<Result<Reply>> p;
      p.set_value(Status::FailedPrecondition("the client is closed; request refused"));
      return p.get_future();
    }
    if (topic.empty()) {
      std::promise<Result<Reply>> p;
      p.set_value(Status::InvalidArgument("topic name is empty"));
      return p.get_future();
    }
    return requester_.Request(topic, std::move(payload), timeout, std::move(headers));
  }

  Result<std::unique_ptr<Consumer>> Serve(std::string_view topic, std::string_view group,
                                          RequestHandler handler,
                                          const ConsumerOptions& options) override {
    if (!handler) return Status::InvalidArgument("serve needs a handler");
    auto clock = options_.clock ? options_.clock : Clock::System();
    // The consumer may outlive the client: it keeps the transport alive.
    // The broker drops requests past their deadline before delivering them, and a request topic
    // this creates gets interest retention (Options::request_topic_config).
    ConsumerOptions serving = options;
    serving.group.serves_requests = true;
    return Start(topic, group, serving,
                 [handler = std::move(handler), clock, transport = transport_](InFlight& flight) {
                   ServeOne(*transport, *clock, handler, flight);
                 });
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    requester_.Close();
  }

  ClientStats stats() const override { return requester_.stats(); }
  bool WaitForStats(const std::function<bool(const ClientStats&)>& condition,
                    std::chrono::milliseconds timeout) const override {
    return requester_.WaitForStats(condition, timeout);
  }

 private:
  static void ServeOne(Transport& transport, const Clock& clock, const RequestHandler& handler,
                       InFlight& flight) {
    const ReceivedMessage& request = flight.message;
    const auto reply_to = request.Header(kReplyToHeader);
    const auto correlation = request.Header(kCorrelationIdHeader);
    if (!reply_to || !correlation) {
      flight.TryReject("malformed request: needs reply_to and correlation_id headers");
      return;
    }
    if (auto deadline = request.Header(kDeadlineHeader)) {
      int64_t us = 0;
      try {
        us = std::stoll(std::string(*deadline));
      } catch (const std::exception&) {
        us = 0;
      }
      if (us != 0 && clock.Now().time_since_epoch().count() > us) {
        flight.state->Count(flight.state->dropped_expired);  // nobody waits for this answer any more
        flight.TryAck();
        return;
      }
    }
    Message reply;
    try {
      Reply r = handler(request);
      reply.payload = std::move(r.payload);
      reply.headers = std::move(r.headers);
    } catch (const std::exception& e) {
      reply.headers.emplace_back(std::string(kErrorHeader), e.what());
    } catch (...) {
      reply.headers.emplace_back(std::string(kErrorHeader), "responder threw a non-std exception");
    }
    reply.headers.emplace_back(std::string(kCorrelationIdHeader), std::string(*correlation));
    flight.TryReplyAndAck(transport, *reply_to, std::move(reply));
  }

  Result<std::unique_ptr<Consumer>> Start(std::string_view topic, std::string_view group,
                                          const ConsumerOptions& options,
                                          internal::Dispatch dispatch) {
    if (closed_.load()) return Status::FailedPrecondition("the client is closed; subscribe refused");
    if (topic.empty()) return Status::InvalidArgument("topic name is empty");
    if (group.empty()) return Status::InvalidArgument("group name is empty");
    if (options.concurrency == 0) return Status::InvalidArgument("concurrency must be at least 1");
    if (options.max_lease_extension.count() <= 0) {
      return Status::InvalidArgument("max_lease_extension must be positive");
    }
    SubscribeOptions subscribe;
    subscribe.member = options.member;
    subscribe.max_in_flight = options.max_in_flight;
    subscribe.group = options.group;
    auto subscription = transport_->Subscribe(topic, group, subscribe);
    if (!subscription.ok()) return subscription.status();
    return ConsumerImpl::Start(std::move(subscription).value(), std::string(topic),
                               std::string(group), options, options_.clock, std::move(dispatch));
  }

  const std::shared_ptr<Transport> transport_;
  const ClientOptions options_;
  internal::Requester requester_;
  std::atomic<bool> closed_{false};
};

}  // namespace

std::unique_ptr<Client> Client::Connect(std::unique_ptr<Transport> transport,
                                        ClientOptions options) {
  return std::make_unique<ClientImpl>(std::move(transport), std::move(options));
}

std::unique_ptr<Client> Client::Embedded(Broker& broker, ClientOptions options) {
  return Connect(MakeInProcessTransport(broker), std::move(options));
}

}  // namespace broker::client
