// The in-process transport: a thin adapter over an embedded broker::Broker.
#include "broker/client/transport.h"

namespace broker::client {
namespace {

class InProcessTransport final : public Transport {
 public:
  explicit InProcessTransport(Broker& broker) : broker_(broker) {}

  void Publish(std::string_view topic, std::vector<Message> messages, const PublishOptions& options,
               PublishCallback done) override {
    broker_.PublishAsync(topic, std::move(messages), options, std::move(done));
  }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  const SubscribeOptions& options) override {
    return broker_.Subscribe(topic, group, options);
  }
  Result<std::unique_ptr<Inbox>> OpenInbox(Broker::ReplyHandler on_reply,
                                           std::function<void(Status)>) override {
    return broker_.OpenInbox(std::move(on_reply));  // lives as long as the broker: never lost
  }
  Status SendReply(std::string_view inbox, Message reply) override {
    return broker_.SendReply(inbox, std::move(reply));
  }
  Result<bool> HasSubscribers(std::string_view topic) override {
    return broker_.HasSubscribers(topic);
  }

 private:
  Broker& broker_;
};

}  // namespace

std::unique_ptr<Transport> MakeInProcessTransport(Broker& broker) {
  return std::make_unique<InProcessTransport>(broker);
}

}  // namespace broker::client
