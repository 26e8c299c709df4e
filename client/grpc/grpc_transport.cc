// The gRPC Transport: publish (async unary), subscriptions (grpc_subscription.cc), the reply
// inbox (a bidi stream that also carries this client's requests) and the small unary calls.
#include "broker/client/grpc_transport.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <unordered_map>

#include "broker/client/headers.h"
#include "broker/v1/broker.grpc.pb.h"
#include "grpc_channel.h"
#include "grpc_subscription.h"
#include "publish_batcher.h"
#include "rpc/convert.h"
#include "rpc/status_mapping.h"
#include "rpc/write_queue.h"

namespace broker::client {
namespace grpc_internal {
namespace {

// One OpenInbox stream: replies come down it, and this client's requests go up it. Owns itself;
// deleted in OnDone. The GrpcInbox handle cancels it.
class InboxStream final : public grpc::ClientBidiReactor<v1::InboxCommand, v1::InboxEvent> {
 public:
  InboxStream(std::shared_ptr<v1::BrokerService::Stub> stub, const GrpcTransportOptions& options,
              Broker::ReplyHandler on_reply, std::function<void(Status)> on_closed,
              std::promise<Result<std::string>> address)
      : stub_(std::move(stub)),
        options_(options),
        on_reply_(std::move(on_reply)),
        on_closed_(std::move(on_closed)),
        address_(std::move(address)),
        // Finishing the writer half-closes the call; brokerd then ends it.
        writer_([this](const v1::InboxCommand* c) { StartWrite(c); },
                [this](const grpc::Status&) { StartWritesDone(); }) {
    link_->stream = this;
    PrepareContext(context_, options, std::chrono::milliseconds(0));
    stub_->async()->OpenInbox(&context_, this);
    StartRead(&event_);
    StartCall();
  }

  // Shared with the GrpcInbox handle, which may outlive this stream (deleted in OnDone).
  struct Link {
    std::mutex mu;
    InboxStream* stream = nullptr;  // guarded by mu; null once the stream is done
    bool cancelled = false;         // guarded by mu
    std::condition_variable done;
    // Half-closes the call and waits (bounded) until brokerd has forgotten the inbox and ended the
    // call, so that once this returns a reply addressed to the inbox is refused as undeliverable
    // (a cancel alone races with replies already on their way). Cancels if brokerd is too slow.
    void Close(std::chrono::milliseconds wait) {
      std::unique_lock lock(mu);
      cancelled = true;
      if (stream == nullptr) return;
      stream->writer_.Finish(grpc::Status::OK);  // after the queued requests: WritesDone
      if (done.wait_for(lock, wait, [&] { return stream == nullptr; })) return;
      if (stream != nullptr) stream->context_.TryCancel();
      done.wait_for(lock, wait, [&] { return stream == nullptr; });
    }
    // Sends a request up the stream, keeping `on_failed` for brokerd's answer. False if the
    // stream is gone or closing; `on_failed` is then left to the caller.
    bool SendRequest(v1::InboxCommand command, const std::string& correlation_id,
                     std::chrono::steady_clock::time_point deadline,
                     std::function<void(Status)>& on_failed) {
      std::lock_guard lock(mu);
      if (stream == nullptr) return false;
      stream->Track(correlation_id, deadline, std::move(on_failed));
      if (stream->writer_.Enqueue(std::move(command))) return true;
      on_failed = stream->Untrack(correlation_id);
      return false;
    }
  };
  std::shared_ptr<Link> link() const { return link_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    switch (event_.kind_case()) {
      case v1::InboxEvent::kAddress:
        address_set_ = true;
        address_.set_value(event_.address());
        break;
      case v1::InboxEvent::kReply: {
        Message reply;
        reply.payload = event_.reply().payload();
        reply.headers = rpc::FromProto(event_.reply().headers());
        for (const auto& [name, value] : reply.headers) {
          if (name == kCorrelationIdHeader) Untrack(value);  // published: it cannot fail now
        }
        on_reply_(std::move(reply));
        break;
      }
      case v1::InboxEvent::kRequestFailed: {
        const auto& failed = event_.request_failed();
        auto on_failed = Untrack(failed.correlation_id());
        if (on_failed) {  // brokerd's own answer: an unavailable here is brokerd's, not the link's
          on_failed(rpc::FromGrpc(
              grpc::Status(static_cast<grpc::StatusCode>(failed.code()), failed.message())));
        }
        break;
      }
      case v1::InboxEvent::KIND_NOT_SET:
        break;
    }
    event_.Clear();
    StartRead(&event_);
  }

  void OnWriteDone(bool ok) override { writer_.OnWriteDone(ok); }

  void OnDone(const grpc::Status& status) override {
    const Status result = CallStatus(status, options_);
    if (!address_set_) {
      address_.set_value(result.ok() ? Status::Unavailable("brokerd closed the inbox") : result);
    }
    bool cancelled = false;
    {
      std::lock_guard lock(link_->mu);
      cancelled = link_->cancelled;
      link_->stream = nullptr;
    }
    link_->done.notify_all();
    // Requests still tracked end with the inbox: on_closed tells their requester.
    if (address_set_ && !cancelled && on_closed_) {
      on_closed_(result.ok() ? Status::Unavailable("inbox closed") : result);
    }
    delete this;
  }

 private:
  struct Tracked {
    std::function<void(Status)> on_failed;
    std::chrono::steady_clock::time_point deadline;
  };

  // Keeps a request's failure callback until its reply or failure arrives. Requests that get
  // neither (their requester timed out) are dropped past their deadline, so the map stays bounded.
  void Track(const std::string& correlation_id, std::chrono::steady_clock::time_point deadline,
             std::function<void(Status)> on_failed) {
    std::lock_guard lock(tracked_mu_);
    if (tracked_.size() >= prune_at_) {
      const auto now = std::chrono::steady_clock::now();
      std::erase_if(tracked_, [now](const auto& entry) { return entry.second.deadline < now; });
      prune_at_ = std::max<size_t>(1024, 2 * tracked_.size());
    }
    tracked_[correlation_id] = Tracked{std::move(on_failed), deadline};
  }
  std::function<void(Status)> Untrack(const std::string& correlation_id) {
    std::lock_guard lock(tracked_mu_);
    auto it = tracked_.find(correlation_id);
    if (it == tracked_.end()) return {};
    auto on_failed = std::move(it->second.on_failed);
    tracked_.erase(it);
    return on_failed;
  }

  // Keeps the channel alive for as long as the call runs.
  const std::shared_ptr<v1::BrokerService::Stub> stub_;
  const GrpcTransportOptions options_;
  grpc::ClientContext context_;
  v1::InboxEvent event_;
  Broker::ReplyHandler on_reply_;
  std::function<void(Status)> on_closed_;
  std::promise<Result<std::string>> address_;
  bool address_set_ = false;
  rpc::OrderedWriter<v1::InboxCommand> writer_;
  std::mutex tracked_mu_;
  std::unordered_map<std::string, Tracked> tracked_;  // guarded by tracked_mu_
  size_t prune_at_ = 1024;                            // guarded by tracked_mu_
  const std::shared_ptr<Link> link_ = std::make_shared<Link>();
};

class GrpcInbox final : public Inbox {
 public:
  GrpcInbox(std::shared_ptr<InboxStream::Link> link, std::string address)
      : link_(std::move(link)), address_(std::move(address)) {}
  // Closing ends the stream; the broker forgets the inbox. The stream deletes itself.
  ~GrpcInbox() override { link_->Close(std::chrono::seconds(1)); }
  const std::string& address() const override { return address_; }
  InboxStream::Link& link() const { return *link_; }

 private:
  const std::shared_ptr<InboxStream::Link> link_;
  const std::string address_;
};

// One Publish RPC (async unary); `done` runs on a gRPC thread.
void SendPublish(const std::shared_ptr<v1::BrokerService::Stub>& stub,
                 const GrpcTransportOptions& options, const std::string& topic,
                 const PublishOptions& publish_options, const std::vector<Message>& messages,
                 PublishBatcher::Callback done) {
  struct Call {
    std::shared_ptr<v1::BrokerService::Stub> stub;  // the channel outlives the call
    GrpcTransportOptions options;
    grpc::ClientContext context;
    v1::PublishRequest request;
    v1::PublishResponse response;
    PublishBatcher::Callback done;
  };
  auto* call = new Call();
  call->stub = stub;
  call->options = options;
  PrepareContext(call->context, options, options.call_timeout);
  call->request.set_topic(topic);
  call->request.mutable_messages()->Reserve(static_cast<int>(messages.size()));
  for (const Message& m : messages) rpc::ToProto(m, *call->request.add_messages());
  if (publish_options.durability) {
    call->request.set_durability(*publish_options.durability == Durability::kSync
                                     ? v1::DURABILITY_SYNC
                                     : v1::DURABILITY_ASYNC);
  }
  call->request.set_require_subscribers(publish_options.require_subscribers);
  call->done = std::move(done);
  stub->async()->Publish(
      &call->context, &call->request, &call->response, [call](grpc::Status status) {
        std::unique_ptr<Call> owned(call);
        if (!status.ok()) {
          owned->done(CallStatus(status, owned->options));
          return;
        }
        std::vector<PublishResult> results;
        results.reserve(static_cast<size_t>(owned->response.positions_size()));
        for (const auto& p : owned->response.positions()) {
          results.push_back({PartitionId(p.partition()), Offset(p.offset()), p.duplicate()});
        }
        owned->done(std::move(results));
      });
}

class GrpcTransport final : public Transport {
 public:
  GrpcTransport(std::shared_ptr<grpc::Channel> channel, GrpcTransportOptions options)
      : channel_(std::move(channel)),
        stub_(v1::BrokerService::NewStub(channel_)),
        options_(std::move(options)),
        batcher_(PublishBatcher::Make(
            [stub = stub_, options = options_](
                const std::string& topic, const PublishOptions& publish_options,
                const std::vector<Message>& messages, PublishBatcher::Callback done) {
              SendPublish(stub, options, topic, publish_options, messages, std::move(done));
            },
            PublishBatcher::Limits{})) {}

  // Publishes go through the batcher: concurrent publishes to a topic share Publish RPCs.
  void Publish(std::string_view topic, std::vector<Message> messages, const PublishOptions& options,
               PublishCallback done) override {
    if (options.partition) {
      return done(Status::InvalidArgument(
          "publishing to an explicit partition is not supported over gRPC (broker.v1 carries no "
          "partition)"));
    }
    batcher_->Publish(topic, std::move(messages), options, std::move(done));
  }

  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  const SubscribeOptions& options) override {
    return OpenGrpcSubscription(stub_, options_, topic, group, options);
  }

  Result<std::unique_ptr<Inbox>> OpenInbox(Broker::ReplyHandler on_reply,
                                           std::function<void(Status)> on_closed) override {
    std::promise<Result<std::string>> address;
    auto result = address.get_future();
    auto link = (new InboxStream(stub_, options_, std::move(on_reply), std::move(on_closed),
                                 std::move(address)))
                    ->link();
    if (result.wait_for(options_.call_timeout) != std::future_status::ready) {
      link->Close(std::chrono::seconds(1));
      return Status::DeadlineExceeded("brokerd at " + options_.address +
                                      " did not open a reply inbox in time");
    }
    auto opened = result.get();
    if (!opened.ok()) return opened.status();  // the stream has already ended and deleted itself
    return std::unique_ptr<Inbox>(new GrpcInbox(std::move(link), *opened));
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

  // On the inbox's own stream: no Publish call, and no answer unless the request failed.
  void PublishRequest(Inbox& inbox, std::string_view topic, Message request,
                      const std::string& correlation_id,
                      std::chrono::steady_clock::time_point deadline, bool alone,
                      std::function<void(Status)> on_failed) override {
    auto* grpc_inbox = dynamic_cast<GrpcInbox*>(&inbox);
    if (grpc_inbox == nullptr) {  // not one of ours: the general path
      Transport::PublishRequest(inbox, topic, std::move(request), correlation_id, deadline, alone,
                                std::move(on_failed));
      return;
    }
    v1::InboxCommand command;
    auto* wire = command.mutable_request();
    wire->set_topic(std::string(topic));
    std::string payload = std::move(request.payload);
    rpc::ToProto(request, *wire->mutable_message());
    wire->mutable_message()->set_payload(std::move(payload));
    wire->set_correlation_id(correlation_id);
    if (!grpc_inbox->link().SendRequest(std::move(command), correlation_id, deadline, on_failed) &&
        on_failed) {
      on_failed(Status::Unavailable("the reply inbox at brokerd " + options_.address +
                                    " is closed; the request was not sent"));
    }
  }

  // The reply travels in the ack's frame on the subscription's stream.
  void ReplyAndAck(Subscription& subscription, std::string_view inbox, Message reply,
                   PartitionId partition, Offset offset, uint32_t attempt,
                   ReplyAndAckCallback done) override {
    if (!ReplyAndAckOnStream(subscription, inbox, reply, partition, offset, attempt, done)) {
      Transport::ReplyAndAck(subscription, inbox, std::move(reply), partition, offset, attempt,
                             std::move(done));
    }
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
  const std::shared_ptr<PublishBatcher> batcher_;
};

}  // namespace
}  // namespace grpc_internal

Result<std::unique_ptr<Transport>> MakeGrpcTransport(const GrpcTransportOptions& options) {
  // Keep the gRPC library initialised for the life of the process. Otherwise destroying the last
  // channel shuts gRPC down while callbacks of calls that just ended may still run on its threads.
  static const bool initialised = [] {
    grpc_init();
    return true;
  }();
  (void)initialised;
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
