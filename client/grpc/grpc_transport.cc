// The gRPC Transport: publish (async unary), subscriptions (grpc_subscription.cc), the reply
// inbox (a server stream) and the small unary calls.
#include "broker/client/grpc_transport.h"

#include <future>
#include <mutex>

#include "broker/v1/broker.grpc.pb.h"
#include "grpc_channel.h"
#include "grpc_subscription.h"
#include "rpc/convert.h"
#include "rpc/status_mapping.h"

namespace broker::client {
namespace grpc_internal {
namespace {

// One OpenInbox stream. Owns itself; deleted in OnDone. The GrpcInbox handle cancels it.
class InboxStream final : public grpc::ClientReadReactor<v1::InboxEvent> {
 public:
  InboxStream(v1::BrokerService::Stub& stub, const GrpcTransportOptions& options,
              Broker::ReplyHandler on_reply, std::function<void(Status)> on_closed,
              std::promise<Result<std::string>> address)
      : options_(options),
        on_reply_(std::move(on_reply)),
        on_closed_(std::move(on_closed)),
        address_(std::move(address)) {
    PrepareContext(context_, options, std::chrono::milliseconds(0));
    stub.async()->OpenInbox(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    context_.TryCancel();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (event_.kind_case() == v1::InboxEvent::kAddress) {
      address_set_ = true;
      address_.set_value(event_.address());
    } else if (event_.kind_case() == v1::InboxEvent::kReply) {
      Message reply;
      reply.payload = event_.reply().payload();
      reply.headers = rpc::FromProto(event_.reply().headers());
      on_reply_(std::move(reply));
    }
    event_.Clear();
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    const Status result = CallStatus(status, options_);
    if (!address_set_) {
      address_.set_value(result.ok() ? Status::Unavailable("brokerd closed the inbox") : result);
    } else {
      bool cancelled = false;
      {
        std::lock_guard lock(mu_);
        cancelled = cancelled_;
      }
      if (!cancelled && on_closed_) on_closed_(result.ok() ? Status::Unavailable("inbox closed") : result);
    }
    delete this;
  }

 private:
  const GrpcTransportOptions options_;
  grpc::ClientContext context_;
  v1::OpenInboxRequest request_;
  v1::InboxEvent event_;
  Broker::ReplyHandler on_reply_;
  std::function<void(Status)> on_closed_;
  std::promise<Result<std::string>> address_;
  bool address_set_ = false;
  std::mutex mu_;
  bool cancelled_ = false;  // guarded by mu_
};

class GrpcInbox final : public Inbox {
 public:
  GrpcInbox(InboxStream* stream, std::string address)
      : stream_(stream), address_(std::move(address)) {}
  // Cancelling ends the stream; the broker forgets the inbox. The stream deletes itself.
  ~GrpcInbox() override { stream_->Cancel(); }
  const std::string& address() const override { return address_; }

 private:
  InboxStream* stream_;
  const std::string address_;
};

class GrpcTransport final : public Transport {
 public:
  GrpcTransport(std::shared_ptr<grpc::Channel> channel, GrpcTransportOptions options)
      : channel_(std::move(channel)),
        stub_(v1::BrokerService::NewStub(channel_)),
        options_(std::move(options)) {}

  void Publish(std::string_view topic, std::vector<Message> messages, const PublishOptions& options,
               PublishCallback done) override {
    struct Call {
      grpc::ClientContext context;
      v1::PublishRequest request;
      v1::PublishResponse response;
      PublishCallback done;
    };
    auto* call = new Call();
    PrepareContext(call->context, options_, options_.call_timeout);
    call->request.set_topic(std::string(topic));
    for (const Message& m : messages) rpc::ToProto(m, *call->request.add_messages());
    if (options.durability) {
      call->request.set_durability(*options.durability == Durability::kSync ? v1::DURABILITY_SYNC
                                                                            : v1::DURABILITY_ASYNC);
    }
    call->done = std::move(done);
    stub_->async()->Publish(&call->context, &call->request, &call->response,
                            [call, this](grpc::Status status) {
                              std::unique_ptr<Call> owned(call);
                              if (!status.ok()) {
                                owned->done(CallStatus(status, options_));
                                return;
                              }
                              std::vector<PublishResult> results;
                              for (const auto& p : owned->response.positions()) {
                                results.push_back({PartitionId(p.partition()), Offset(p.offset()),
                                                   p.duplicate()});
                              }
                              owned->done(std::move(results));
                            });
  }

  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  const SubscribeOptions& options) override {
    return OpenGrpcSubscription(stub_, options_, topic, group, options);
  }

  Result<std::unique_ptr<Inbox>> OpenInbox(Broker::ReplyHandler on_reply,
                                           std::function<void(Status)> on_closed) override {
    std::promise<Result<std::string>> address;
    auto result = address.get_future();
    auto* stream = new InboxStream(*stub_, options_, std::move(on_reply), std::move(on_closed),
                                   std::move(address));
    if (result.wait_for(options_.call_timeout) != std::future_status::ready) {
      stream->Cancel();
      return Status::DeadlineExceeded("brokerd at " + options_.address +
                                      " did not open a reply inbox in time");
    }
    auto opened = result.get();
    if (!opened.ok()) return opened.status();  // the stream has already ended and deleted itself
    return std::unique_ptr<Inbox>(new GrpcInbox(stream, *opened));
  }

  Status SendReply(std::string_view inbox, Message reply) override {
    grpc::ClientContext context;
    PrepareContext(context, options_, options_.call_timeout);
    v1::SendReplyRequest request;
    request.set_inbox(std::string(inbox));
    request.mutable_reply()->set_payload(std::move(reply.payload));
    rpc::ToProto(reply.headers, *request.mutable_reply()->mutable_headers());
    v1::SendReplyResponse response;
    return CallStatus(stub_->SendReply(&context, request, &response), options_);
  }

  Result<bool> HasSubscribers(std::string_view topic) override {
    grpc::ClientContext context;
    PrepareContext(context, options_, options_.call_timeout);
    v1::HasSubscribersRequest request;
    request.set_topic(std::string(topic));
    v1::HasSubscribersResponse response;
    Status s = CallStatus(stub_->HasSubscribers(&context, request, &response), options_);
    if (!s.ok()) return s;
    return response.has_subscribers();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<v1::BrokerService::Stub> stub_;
  const GrpcTransportOptions options_;
};

}  // namespace
}  // namespace grpc_internal

Result<std::unique_ptr<Transport>> MakeGrpcTransport(const GrpcTransportOptions& options) {
  auto channel = grpc_internal::MakeChannel(options);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<Transport>(
      new grpc_internal::GrpcTransport(std::move(channel).value(), options));
}

Result<std::unique_ptr<Client>> ConnectGrpc(const GrpcTransportOptions& options,
                                            ClientOptions client_options) {
  auto transport = MakeGrpcTransport(options);
  if (!transport.ok()) return transport.status();
  return Client::Connect(std::move(transport).value(), std::move(client_options));
}

}  // namespace broker::client
