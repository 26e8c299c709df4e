#include "rpc/broker_service.h"

#include <memory>
#include <mutex>

#include "rpc/convert.h"
#include "rpc/status_mapping.h"
#include "rpc/subscribe_reactor.h"
#include "rpc/write_queue.h"

namespace broker::rpc {
namespace {

// One OpenInbox stream: the inbox lives exactly as long as the stream. Requests the client sends
// on it are published here; only a failed one is answered (its reply is the answer otherwise).
class InboxReactor final : public grpc::ServerBidiReactor<v1::InboxCommand, v1::InboxEvent> {
 public:
  InboxReactor(Broker& broker, const Authorizer& auth, PendingRequests& pending,
               grpc::CallbackServerContext* context)
      : broker_(broker),
        auth_(auth),
        pending_(pending),
        context_(context),
        writer_([this](const v1::InboxEvent* e) { StartWrite(e); },
                [this](const grpc::Status& s) { Finish(s); }),
        sink_(std::make_shared<Sink>()) {
    // Not topic-specific: each request sent on it is checked against its topic.
    if (auto scope = auth.Scope(*context, Right::kPublish); !scope.ok()) {
      writer_.Finish(ToGrpc(scope.status()));
      return;
    }
    sink_->writer = &writer_;
    sink_->reader = this;
    auto inbox = broker.OpenInbox([sink = sink_](Message reply) {
      v1::InboxEvent event;
      event.mutable_reply()->set_payload(std::move(reply.payload));
      ToProto(reply.headers, *event.mutable_reply()->mutable_headers());
      sink->Send(std::move(event));
    });
    if (!inbox.ok()) {
      writer_.Finish(ToGrpc(inbox.status()));
      return;
    }
    address_ = inbox.value()->address();
    pending_.Open(address_);
    v1::InboxEvent first;
    first.set_address(address_);
    {
      std::lock_guard lock(inbox_mu_);
      inbox_ = std::move(inbox).value();
    }
    writer_.Enqueue(std::move(first));
    StartRead(&command_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed: it is leaving. Forget the inbox before ending the call, so the
      // client knows, once the call has ended, that later replies are refused as undeliverable.
      Close();
      writer_.Finish(grpc::Status::OK);
      return;
    }
    if (command_.has_request()) PublishRequest(*command_.mutable_request());
    command_.Clear();
    if (sink_->PauseReading()) return;  // Published() reads on
    StartRead(&command_);
  }
  void OnWriteDone(bool ok) override { writer_.OnWriteDone(ok); }
  void OnCancel() override {
    Close();  // at once, so a reply racing with the requester's exit gets NOT_FOUND
    writer_.Finish(grpc::Status::CANCELLED);
  }
  void OnDone() override {
    Close();
    delete this;
  }

 private:
  // Requests of one stream being published at once. Above it the stream is not read until some
  // of them are done, so one requester cannot queue unbounded work on the engine's writer (the
  // Publish RPC has the client's in-flight limit for that; requests on this stream do not).
  static constexpr uint32_t kMaxPublishing = 1024;

  // Shared with the publishes' callbacks, which may run after the reactor is gone.
  struct Sink {
    std::mutex mu;
    OrderedWriter<v1::InboxEvent>* writer = nullptr;  // guarded by mu; null once closed
    InboxReactor* reader = nullptr;                   // guarded by mu; null once closed
    uint32_t publishing = 0;                          // guarded by mu
    bool read_paused = false;                         // guarded by mu
    void Send(v1::InboxEvent event) {
      std::lock_guard lock(mu);
      if (writer != nullptr) writer->Enqueue(std::move(event));
    }
    // After a read: true (and reading paused) if too many requests are being published.
    bool PauseReading() {
      std::lock_guard lock(mu);
      read_paused = publishing >= kMaxPublishing;
      return read_paused;
    }
    // A request's publish ended; reads on if reading waited for that. The lock keeps the reactor
    // alive meanwhile (Close takes it before the reactor can go).
    void Published() {
      std::lock_guard lock(mu);
      --publishing;
      if (read_paused && publishing < kMaxPublishing && reader != nullptr) {
        read_paused = false;
        reader->StartRead(&reader->command_);
      }
    }
  };

  // Never blocks: the append is queued to the engine's writer; a failure comes back as an event.
  void PublishRequest(v1::InboxCommand::Request& request) {
    auto fail = [sink = sink_, id = request.correlation_id()](const Status& status) {
      v1::InboxEvent event;
      auto* failed = event.mutable_request_failed();
      failed->set_correlation_id(id);
      const grpc::Status wire = ToGrpc(status);
      failed->set_code(static_cast<int32_t>(wire.error_code()));
      failed->set_message(wire.error_message());
      sink->Send(std::move(event));
    };
    if (Status s = auth_.Check(*context_, Right::kPublish, request.topic()); !s.ok()) {
      fail(s);
      return;
    }
    // Before it is published: a reply may come as soon as it is.
    pending_.Add(address_, request.correlation_id(), request.topic());
    std::vector<Message> messages;
    messages.push_back(FromProto(std::move(*request.mutable_message())));
    PublishOptions options;
    options.durability = Durability::kAsync;
    options.require_subscribers = true;
    // Queued to the engine's writer thread, never committed here (no inline_commit): a RocksDB
    // write on a gRPC callback thread would stall every call it serves while RocksDB stalls
    // (docs/threading.md, where the W3 figures with and without it are).
    {
      std::lock_guard lock(sink_->mu);
      ++sink_->publishing;
    }
    broker_.PublishAsync(request.topic(), std::move(messages), options,
                         [fail, sink = sink_](Result<std::vector<PublishResult>> result) {
                           if (!result.ok()) fail(result.status());
                           sink->Published();
                         });
  }

  void Close() {
    if (!address_.empty()) pending_.Close(address_);
    {
      std::lock_guard lock(sink_->mu);
      sink_->writer = nullptr;
      sink_->reader = nullptr;
    }
    std::unique_ptr<Inbox> inbox;
    {
      std::lock_guard lock(inbox_mu_);
      inbox = std::move(inbox_);
    }
  }

  Broker& broker_;
  const Authorizer& auth_;
  PendingRequests& pending_;
  grpc::CallbackServerContext* const context_;
  std::string address_;  // of the inbox; set in the constructor
  OrderedWriter<v1::InboxEvent> writer_;
  std::shared_ptr<Sink> sink_;
  v1::InboxCommand command_;  // the read in progress
  std::mutex inbox_mu_;
  std::unique_ptr<Inbox> inbox_;  // guarded by inbox_mu_
};

}  // namespace

grpc::ServerUnaryReactor* BrokerServiceImpl::Publish(grpc::CallbackServerContext* context,
                                                     const v1::PublishRequest* request,
                                                     v1::PublishResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (Status s = auth_.Check(*context, Right::kPublish, request->topic()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  std::vector<Message> messages;
  messages.reserve(static_cast<size_t>(request->messages_size()));
  for (const auto& m : request->messages()) messages.push_back(FromProto(m));
  PublishOptions options;
  if (request->durability() == v1::DURABILITY_SYNC) options.durability = Durability::kSync;
  if (request->durability() == v1::DURABILITY_ASYNC) options.durability = Durability::kAsync;
  options.require_subscribers = request->require_subscribers();
  broker_.PublishAsync(request->topic(), std::move(messages), options,
                       [reactor, response](Result<std::vector<PublishResult>> result) {
                         if (result.ok()) {
                           for (const PublishResult& r : *result) {
                             auto* p = response->add_positions();
                             p->set_partition(r.partition.value());
                             p->set_offset(r.offset.value());
                             p->set_duplicate(r.duplicate);
                           }
                         }
                         reactor->Finish(ToGrpc(result.status()));
                       });
  return reactor;
}

grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* BrokerServiceImpl::Subscribe(
    grpc::CallbackServerContext* context) {
  return NewSubscribeReactor(context, broker_, executor_, auth_, pending_);
}

grpc::ServerBidiReactor<v1::InboxCommand, v1::InboxEvent>* BrokerServiceImpl::OpenInbox(
    grpc::CallbackServerContext* context) {
  return new InboxReactor(broker_, auth_, pending_, context);
}

grpc::ServerUnaryReactor* BrokerServiceImpl::SendReply(grpc::CallbackServerContext* context,
                                                       const v1::SendReplyRequest* request,
                                                       v1::SendReplyResponse*) {
  auto* reactor = context->DefaultReactor();
  if (auto scope = auth_.Scope(*context, Right::kConsume); !scope.ok()) {
    reactor->Finish(ToGrpc(scope.status()));
    return reactor;
  }
  // Only a reply to a request sent from that inbox, by a consumer of its topic.
  auto topic = pending_.Authorize(request->inbox(), request->reply().headers(), std::nullopt);
  if (!topic.ok()) {
    reactor->Finish(ToGrpc(topic.status()));
    return reactor;
  }
  if (Status s = auth_.Check(*context, Right::kConsume, *topic); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  Message reply;
  reply.payload = request->reply().payload();
  reply.headers = FromProto(request->reply().headers());
  reactor->Finish(ToGrpc(broker_.SendReply(request->inbox(), std::move(reply))));
  return reactor;
}

grpc::ServerUnaryReactor* BrokerServiceImpl::HasSubscribers(
    grpc::CallbackServerContext* context, const v1::HasSubscribersRequest* request,
    v1::HasSubscribersResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (Status s = auth_.Check(*context, Right::kPublish, request->topic()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  response->set_has_subscribers(broker_.HasSubscribers(request->topic()));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace broker::rpc
