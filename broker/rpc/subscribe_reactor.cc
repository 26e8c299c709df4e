#include "rpc/subscribe_reactor.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "rpc/apply_settle.h"
#include "rpc/convert.h"
#include "rpc/limits.h"
#include "rpc/merge_answers.h"
#include "rpc/status_mapping.h"
#include "rpc/write_queue.h"

namespace broker::rpc {
namespace {

using Request = v1::SubscribeRequest;
using Response = v1::SubscribeResponse;

class Reactor;

// Engine-side state of one stream. Only touched on its strand, except `reactor` (guarded by mu).
struct Session : std::enable_shared_from_this<Session> {
  Broker* broker = nullptr;
  const PendingRequests* pending = nullptr;
  std::string topic;  // of the subscription, once started
  std::shared_ptr<Strand> strand;
  std::unique_ptr<Subscription> subscription;
  uint64_t credits = 0;
  uint64_t credit_frames = 0;  // credit frames applied, told with each delivery batch
  // Start.merged_answers: answers may ride in delivery frames and merge while a write is out.
  bool merged_answers = false;
  bool pump_scheduled = false;
  // Set by the engine's ready callback (any thread) while its pump is queued on the strand, so a
  // burst of notifications queues one pump, and that pump runs without a second hop.
  std::atomic<bool> ready_pump_queued{false};

  std::mutex mu;
  Reactor* reactor = nullptr;  // guarded by mu; null after OnDone

  void Send(Response response);
  void FinishCall(const Status& status);
  void Handle(Request request);
  // Applies one settle and fills its answer; true if it succeeded.
  bool ApplySettle(const Request::Settle& settle, Response::Settled& settled);
  // A Credit frame's, or one a SettleBatch carries; false (and the call finished) before Start.
  bool ApplyCredit(const Request::Credit& credit);
  // Leases up to the credit and sends the deliveries. `answers` (a SettledBatch, if any) go out
  // first: inside the delivery frame for a client that takes merged answers, else on their own.
  void Pump(std::optional<Response> answers = std::nullopt);
  void SchedulePump();
};

class Reactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  Reactor(grpc::CallbackServerContext* context, Broker& broker, Executor& executor,
          const Authorizer& auth, const PendingRequests& pending)
      : context_(context),
        auth_(auth),
        writer_([this](const Response* r) { StartWrite(r); },
                [this](const grpc::Status& s) { Finish(s); }) {
    session_ = std::make_shared<Session>();
    session_->broker = &broker;
    session_->pending = &pending;
    session_->strand = executor.MakeStrand();
    session_->reactor = this;
    StartRead(&request_);
  }

  OrderedWriter<Response>& writer() { return writer_; }
  const Authorizer& auth() const { return auth_; }
  grpc::CallbackServerContext* context() const { return context_; }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side (or the stream broke): leave the group, finish
      session_->strand->Post([s = session_] {
        s->subscription.reset();
        s->FinishCall(Status::Ok());
      });
      return;
    }
    session_->strand->Post(
        [s = session_, r = std::move(request_)]() mutable { s->Handle(std::move(r)); });
    request_ = Request();
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override { writer_.OnWriteDone(ok); }

  void OnDone() override {
    {
      std::lock_guard lock(session_->mu);
      session_->reactor = nullptr;
    }
    // A client that vanished mid-stream: its leases return to the group when the subscription goes.
    session_->strand->Post([s = session_] { s->subscription.reset(); });
    delete this;
  }

 private:
  grpc::CallbackServerContext* const context_;
  const Authorizer& auth_;
  OrderedWriter<Response> writer_;
  std::shared_ptr<Session> session_;
  Request request_;
};

void Session::Send(Response response) {
  std::lock_guard lock(mu);
  if (reactor != nullptr) reactor->writer().Enqueue(std::move(response));
}

void Session::FinishCall(const Status& status) {
  std::lock_guard lock(mu);
  if (reactor != nullptr) reactor->writer().Finish(ToGrpc(status));
}

void Session::Handle(Request request) {
  switch (request.kind_case()) {
    case Request::kStart: {
      if (subscription) {
        FinishCall(Status::FailedPrecondition("the stream already started a subscription"));
        return;
      }
      const auto& start = request.start();
      {
        std::lock_guard lock(mu);
        if (reactor == nullptr) return;
        if (Status s = reactor->auth().Check(*reactor->context(), Right::kConsume, start.topic());
            !s.ok()) {
          reactor->writer().Finish(ToGrpc(s));
          return;
        }
      }
      if (start.max_in_flight() > kMaxInFlightPerMember) {
        FinishCall(Status::InvalidArgument(
            "max_in_flight " + std::to_string(start.max_in_flight()) +
            " is over brokerd's limit of " + std::to_string(kMaxInFlightPerMember) + " per member"));
        return;
      }
      SubscribeOptions options;
      options.member = start.member();
      if (start.max_in_flight() != 0) options.max_in_flight = start.max_in_flight();
      options.group = FromProto(start.group_config());
      auto subscribed = broker->Subscribe(start.topic(), start.group(), options);
      if (!subscribed.ok()) {
        FinishCall(subscribed.status());
        return;
      }
      subscription = std::move(subscribed).value();
      topic = start.topic();
      merged_answers = start.merged_answers();
      {
        std::lock_guard lock(mu);
        if (reactor != nullptr && merged_answers) {
          reactor->writer().SetMerge(&MergeSubscribeResponses);
        }
        // Names only: the stream's end is logged by the call log (rpc/call_log.h).
        spdlog::debug("event=subscribe_joined peer={} topic={} group={} member={}",
                      reactor != nullptr ? reactor->context()->peer() : std::string("?"),
                      start.topic(), start.group(), subscription->member());
      }
      std::weak_ptr<Session> weak = weak_from_this();
      subscription->SetReadyCallback([weak] {
        auto self = weak.lock();
        if (!self || self->ready_pump_queued.exchange(true)) return;
        self->strand->Post([self] {
          self->ready_pump_queued = false;
          self->Pump();
        });
      });
      Response response;
      response.mutable_started()->set_member(subscription->member());
      response.mutable_started()->set_credit_in_settle_batch(true);
      Send(std::move(response));
      return;
    }
    case Request::kCredit:
      if (ApplyCredit(request.credit())) SchedulePump();
      return;
    case Request::kSettle: {
      Response response;
      const bool ok = ApplySettle(request.settle(), *response.mutable_settled());
      Send(std::move(response));
      if (ok) SchedulePump();  // freed credit may let more through
      return;
    }
    case Request::kSettleBatch: {
      Response response;
      auto* answers = response.mutable_settled_batch();
      bool any_ok = false;
      for (const auto& settle : request.settle_batch().settles()) {
        any_ok |= ApplySettle(settle, *answers->add_settled());
      }
      if (request.settle_batch().has_credit()) {
        // The settles, then the credit: one lease round, whose frame carries the answers too.
        if (!subscription) Send(std::move(response));  // answered; the credit then ends the call
        if (!ApplyCredit(request.settle_batch().credit())) return;
        Pump(std::move(response));
        return;
      }
      Send(std::move(response));
      if (any_ok) SchedulePump();
      return;
    }
    case Request::KIND_NOT_SET:
      FinishCall(Status::InvalidArgument("empty SubscribeRequest: set start, credit or settle"));
      return;
  }
}

bool Session::ApplySettle(const Request::Settle& settle, Response::Settled& settled) {
  // A carried reply must answer a request of this subscription's topic (rpc/pending_requests.h).
  auto check_reply = [this](const v1::SendReplyRequest& reply) -> Status {
    auto request_topic = pending->Authorize(reply.inbox(), reply.reply().headers(), topic);
    if (!request_topic.ok()) return request_topic.status();
    std::lock_guard lock(mu);
    if (reactor == nullptr) return Status::Cancelled("the stream has ended");
    return reactor->auth().Check(*reactor->context(), Right::kConsume, *request_topic);
  };
  return rpc::ApplySettle(*broker, subscription.get(), settle, settled, check_reply).ok();
}

bool Session::ApplyCredit(const Request::Credit& credit) {
  if (!subscription) {
    FinishCall(Status::FailedPrecondition("send 'start' before credits"));
    return false;
  }
  ++credit_frames;
  if (credit.replace()) {
    credits = credit.messages();
  } else {
    credits += credit.messages();
  }
  credits = std::min(credits, kMaxCreditPerMember);  // docs/operations.md, "Limits"
  return true;
}

void Session::SchedulePump() {
  if (pump_scheduled) return;
  pump_scheduled = true;
  strand->Post([self = shared_from_this()] {
    self->pump_scheduled = false;
    self->Pump();
  });
}

void Session::Pump(std::optional<Response> answers) {
  // The answers leave before anything that ends the call, and ahead of the deliveries.
  auto send_answers = [&] {
    if (answers) Send(*std::move(answers));
    answers.reset();
  };
  if (!subscription || credits == 0) return send_answers();
  {
    std::lock_guard lock(mu);
    if (reactor == nullptr) return;
  }
  const uint32_t want = static_cast<uint32_t>(std::min<uint64_t>(credits, kMaxDeliveriesPerFrame));
  auto polled = subscription->Poll(want, std::chrono::milliseconds(0));
  if (!polled.ok()) {
    send_answers();
    // A full disk refuses leases (resource_exhausted) until space returns. That is transient: the
    // stream stays open, with the member's leases and its acks, and the engine's ready signal
    // pumps again once writes work (Group::RunTimers). Anything else ends the call.
    if (polled.status().code() == StatusCode::kResourceExhausted) return;
    FinishCall(polled.status());
    return;
  }
  if (!merged_answers || polled->empty()) send_answers();
  if (!polled->empty()) {  // one frame per lease round, not one per message
    Response response;
    auto* batch = response.mutable_delivery_batch();
    if (answers) {  // merged_answers: this round's frame carries them
      batch->mutable_settled()->Swap(answers->mutable_settled_batch()->mutable_settled());
    }
    batch->set_credit_frames(credit_frames);
    batch->mutable_deliveries()->Reserve(static_cast<int>(polled->size()));
    for (Delivery& d : *polled) {
      auto* delivery = batch->add_deliveries();
      ToProto(d.record, *delivery->mutable_record());
      delivery->set_attempt(d.attempt);
      delivery->set_lease_expires_us(Micros(d.lease_expires_at));
      delivery->set_lease_ms(d.lease_duration.count());
    }
    Send(std::move(response));
  }
  credits -= polled->size();
  if (polled->size() == want && credits > 0) SchedulePump();
}

}  // namespace

grpc::ServerBidiReactor<Request, Response>* NewSubscribeReactor(
    grpc::CallbackServerContext* context, Broker& broker, Executor& executor,
    const Authorizer& auth, const PendingRequests& pending) {
  return new Reactor(context, broker, executor, auth, pending);
}

}  // namespace broker::rpc
