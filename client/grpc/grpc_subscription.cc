#include "grpc_subscription.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "grpc_channel.h"
#include "rpc/convert.h"
#include "rpc/status_mapping.h"

namespace broker::client::grpc_internal {
namespace {

using Request = v1::SubscribeRequest;
using Response = v1::SubscribeResponse;

class Stream;

// Runs once with the broker's answer to one settle (or a local failure); never under Shared::mu.
using SettleCallback = std::function<void(const Response::Settled&)>;

// Most settles coalesced into one SettleBatch frame.
constexpr int kMaxSettlesPerFrame = 1024;
// An AckAsync is held back (corked) at most this long for the frame that follows it: the next
// Poll's credit, or more acks. Ack latency for an application that acks and stops polling.
constexpr auto kMaxCorkDelay = std::chrono::milliseconds(2);

Response::Settled Unanswered(grpc::StatusCode code, const std::string& message) {
  Response::Settled answer;
  answer.set_code(static_cast<int>(code));
  answer.set_message(message);
  answer.set_reply_code(static_cast<int>(code));  // a reply it carried did not go either
  answer.set_reply_message(message);
  return answer;
}

struct Shared {
  std::shared_ptr<v1::BrokerService::Stub> stub;
  GrpcTransportOptions options;
  Request start;  // the Start message; member filled in once the broker named it
  uint32_t max_in_flight = 0;

  std::mutex mu;
  std::condition_variable cv;
  // Wakes the rejoin thread (closing, lost, or the first corked ack to time), so deliveries, which
  // notify `cv` for Poll, do not wake it.
  std::condition_variable rejoin_cv;
  // When the oldest corked ack of the current stream must go at the latest; unset: none corked.
  std::optional<std::chrono::steady_clock::time_point> cork_deadline;  // guarded by mu
  // The rejoin thread is in a timed wait and looks at cork_deadline when it wakes.
  bool cork_deadline_armed = false;  // guarded by mu
  std::deque<Delivery> buffer;  // guarded by mu
  std::function<void()> ready;  // guarded by mu
  Stream* stream = nullptr;     // guarded by mu: current, started
  bool closing = false;         // guarded by mu
  bool lost = false;            // guarded by mu: needs rejoin
  int live_streams = 0;         // guarded by mu
  uint64_t next_request = 1;    // guarded by mu
  // Deliveries the current stream may still send: the last credit granted, less what arrived
  // since under that credit. The broker never sends more than its credit, so at 0 a revoking
  // credit is not needed. Deliveries leased under an earlier credit (brokerd had applied fewer
  // credit frames than were sent) do not count against it.
  uint64_t server_credit = 0;       // guarded by mu
  uint64_t credit_frames_sent = 0;  // guarded by mu: on the current stream
  // The current stream's brokerd takes a credit inside a SettleBatch (Started).
  bool credit_in_settle_batch = false;  // guarded by mu
  // Settles awaiting their answer, by request id in sending order. The broker answers a stream's
  // settles in order, so the answer's entry is (almost always) at the front.
  std::deque<std::pair<uint64_t, SettleCallback>> settles;  // guarded by mu
};

// One Subscribe call. Owns itself: deleted in OnDone.
class Stream final : public grpc::ClientBidiReactor<Request, Response> {
 public:
  Stream(std::shared_ptr<Shared> shared, std::promise<Status> started)
      : shared_(std::move(shared)), started_(std::move(started)) {
    PrepareContext(context_, shared_->options, std::chrono::milliseconds(0));
    shared_->stub->async()->Subscribe(&context_, this);
    Write(shared_->start);
    StartRead(&response_);
    StartCall();
  }

  // Queues a message; writes go out one at a time (corked settles ahead of it go first).
  // Thread-safe.
  void Write(Request request) {
    std::lock_guard lock(write_mu_);
    if (writes_done_) return;
    queue_.push_back(std::move(request));
    StartWritingLocked();
  }

  // Queues a settle. Settles queued behind a write in flight, or corked, are coalesced into one
  // SettleBatch frame: acks pipeline without a frame (or a round trip) per message. `cork`: when
  // no write is in flight, hold the settle back instead of writing it now, for a frame that
  // follows soon (Flush, or any Write, sends it). Returns true if this settle started a cork.
  bool WriteSettle(Request::Settle settle, bool cork) {
    std::lock_guard lock(write_mu_);
    if (writes_done_) return false;  // closing: OnDone fails the settle's callback
    if (WaitingBackLocked() && queue_.back().has_settle_batch() &&
        queue_.back().settle_batch().settles_size() < kMaxSettlesPerFrame) {
      *queue_.back().mutable_settle_batch()->add_settles() = std::move(settle);
      if (!cork) StartWritingLocked();
      return false;
    }
    const bool starts_cork = cork && !writing_ && queue_.empty();
    Request request;
    if (writing_ || cork) {
      *request.mutable_settle_batch()->add_settles() = std::move(settle);
    } else {
      *request.mutable_settle() = std::move(settle);
    }
    queue_.push_back(std::move(request));
    if (!cork) StartWritingLocked();
    return starts_cork;
  }

  // Queues a credit. If settles wait unsent in a SettleBatch (corked, or behind the write in
  // flight) and brokerd takes credits there (`in_settle_batch`), the credit rides in that frame:
  // brokerd applies the settles, then leases under the credit and answers both with one delivery
  // frame.
  void WriteCredit(Request::Credit credit, bool in_settle_batch) {
    std::lock_guard lock(write_mu_);
    if (writes_done_) return;
    if (in_settle_batch && WaitingBackLocked() && queue_.back().has_settle_batch() &&
        !queue_.back().settle_batch().has_credit()) {
      *queue_.back().mutable_settle_batch()->mutable_credit() = std::move(credit);
    } else {
      Request request;
      *request.mutable_credit() = std::move(credit);
      queue_.push_back(std::move(request));
    }
    StartWritingLocked();
  }

  // Sends corked settles now.
  void Flush() {
    std::lock_guard lock(write_mu_);
    if (!writes_done_) StartWritingLocked();
  }

  // Half-closes after queued writes (corked ones too): the broker then leaves the group and
  // ends the stream.
  void Close() {
    std::lock_guard lock(write_mu_);
    if (writes_done_) return;
    StartWritingLocked();
    writes_done_ = true;
    if (!writing_) StartWritesDone();
  }

  void Cancel() { context_.TryCancel(); }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(write_mu_);
    queue_.pop_front();
    if (!ok) queue_.clear();
    if (!queue_.empty()) {
      StartWrite(&queue_.front());
      return;
    }
    writing_ = false;
    if (writes_done_ && ok) StartWritesDone();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    Handle(response_);
    response_.Clear();
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    const Status result = CallStatus(status, shared_->options);
    if (!started_set_) {
      started_set_ = true;
      started_.set_value(result.ok() ? Status::Unavailable("the broker ended the stream") : result);
    }
    std::deque<std::pair<uint64_t, SettleCallback>> unanswered;
    {
      std::lock_guard lock(shared_->mu);
      if (shared_->stream == this) {
        shared_->stream = nullptr;
        shared_->buffer.clear();  // those leases went back to the group with this stream
        if (!shared_->closing) shared_->lost = true;
      }
      unanswered.swap(shared_->settles);
    }
    // Before live_streams drops: the subscription's destructor waits for that, so no callback
    // runs after it returned.
    const auto lost =
        Unanswered(grpc::StatusCode::UNAVAILABLE,
                   "the connection to brokerd was lost; the message will be redelivered");
    for (auto& [id, callback] : unanswered) callback(lost);
    {
      std::lock_guard lock(shared_->mu);
      --shared_->live_streams;
    }
    shared_->cv.notify_all();
    shared_->rejoin_cv.notify_all();
    delete this;
  }

 private:
  void Handle(const Response& response) {
    switch (response.kind_case()) {
      case Response::kStarted: {
        {
          std::lock_guard lock(shared_->mu);
          shared_->start.mutable_start()->set_member(response.started().member());
          shared_->stream = this;
          shared_->server_credit = 0;  // a new stream starts with none
          shared_->credit_frames_sent = 0;
          shared_->credit_in_settle_batch = response.started().credit_in_settle_batch();
          shared_->lost = false;
        }
        shared_->cv.notify_all();  // a Poll waiting on the rejoin grants its credit now
        started_set_ = true;
        started_.set_value(Status::Ok());
        return;
      }
      case Response::kDelivery:  // not sent by this brokerd: whose credit it was is unknown
        Deliver(&response.delivery(), &response.delivery() + 1, std::nullopt);
        return;
      case Response::kDeliveryBatch: {
        const auto& answers = response.delivery_batch().settled();  // Start.merged_answers
        if (!answers.empty()) Answer(answers.begin(), answers.end());
        const auto& batch = response.delivery_batch().deliveries();
        Deliver(batch.begin(), batch.end(), response.delivery_batch().credit_frames());
        return;
      }
      case Response::kSettled:
        Answer(&response.settled(), &response.settled() + 1);
        return;
      case Response::kSettledBatch: {
        const auto& batch = response.settled_batch().settled();
        Answer(batch.begin(), batch.end());
        return;
      }
      case Response::KIND_NOT_SET:
        return;
    }
  }

  // `credit_frames`: how many credit frames brokerd had applied when it leased these; only those
  // leased under the latest credit reduce what it may still send.
  template <typename It>
  void Deliver(It begin, It end, std::optional<uint64_t> credit_frames) {
    std::function<void()> ready;
    {
      std::lock_guard lock(shared_->mu);
      const bool under_latest_credit =
          shared_->stream == this && credit_frames == shared_->credit_frames_sent;
      for (It d = begin; d != end; ++d) {
        if (under_latest_credit && shared_->server_credit > 0) --shared_->server_credit;
        shared_->buffer.push_back(Delivery{rpc::FromProto(d->record()), d->attempt(),
                                           rpc::FromMicros(d->lease_expires_us()),
                                           std::chrono::milliseconds(d->lease_ms())});
      }
      ready = shared_->ready;
    }
    shared_->cv.notify_all();
    if (ready) ready();
  }

  template <typename It>
  void Answer(It begin, It end) {
    std::vector<std::pair<SettleCallback, const Response::Settled*>> answered;
    {
      std::lock_guard lock(shared_->mu);
      for (It a = begin; a != end; ++a) {
        auto it = std::find_if(shared_->settles.begin(), shared_->settles.end(),
                               [id = a->request_id()](const auto& e) { return e.first == id; });
        if (it == shared_->settles.end()) continue;
        answered.emplace_back(std::move(it->second), &*a);
        shared_->settles.erase(it);
      }
    }
    for (auto& [callback, answer] : answered) callback(*answer);
  }

  std::shared_ptr<Shared> shared_;
  grpc::ClientContext context_;
  Response response_;
  std::promise<Status> started_;
  bool started_set_ = false;  // reactor callbacks are serialised for reads/done

  // True if queue_.back() exists and is not being written (so it may still change).
  bool WaitingBackLocked() const { return writing_ ? queue_.size() >= 2 : !queue_.empty(); }
  void StartWritingLocked() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    StartWrite(&queue_.front());
  }

  std::mutex write_mu_;
  // guarded by write_mu_: front() is being written while writing_; without writing_, whatever is
  // queued is corked (settles held back for the next frame).
  std::deque<Request> queue_;
  bool writing_ = false;  // guarded by write_mu_
  bool writes_done_ = false;   // guarded by write_mu_
};

class GrpcSubscription final : public Subscription {
 public:
  explicit GrpcSubscription(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {
    member_ = shared_->start.start().member();
    rejoiner_ = std::thread([this] { RejoinLoop(); });
  }

  ~GrpcSubscription() override {
    {
      std::lock_guard lock(shared_->mu);
      shared_->closing = true;
      if (shared_->stream != nullptr) shared_->stream->Close();
    }
    shared_->cv.notify_all();
    shared_->rejoin_cv.notify_all();
    if (rejoiner_.joinable()) rejoiner_.join();
    // Wait (bounded) for the broker to end the stream, so the member has left when we return.
    std::unique_lock lock(shared_->mu);
    if (shared_->stream != nullptr) shared_->stream->Close();  // one the rejoiner just started
    if (!shared_->cv.wait_for(lock, shared_->options.call_timeout,
                              [&] { return shared_->live_streams == 0; })) {
      if (shared_->stream != nullptr) shared_->stream->Cancel();
      shared_->cv.wait(lock, [&] { return shared_->live_streams == 0; });
    }
  }

  const std::string& member() const override { return member_; }

  // The broker leases only while a Poll asks (credit replaced with what this Poll still wants,
  // and with 0 when it returns), as the in-process transport leases only inside Poll.
  Result<std::vector<Delivery>> Poll(size_t max, std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(shared_->mu);
    Stream* granted_to = nullptr;
    auto grant = [&](uint32_t messages) {
      Request::Credit credit;
      credit.set_messages(messages);
      credit.set_replace(true);
      shared_->server_credit = messages;
      ++shared_->credit_frames_sent;  // brokerd counts a SettleBatch with a credit as one too
      shared_->stream->WriteCredit(std::move(credit), shared_->credit_in_settle_batch);
    };
    for (;;) {
      if (shared_->closing) break;
      if (shared_->buffer.size() >= max || max == 0) break;
      if (shared_->stream != nullptr && granted_to != shared_->stream) {
        granted_to = shared_->stream;
        grant(static_cast<uint32_t>(max - shared_->buffer.size()));
      }
      if (!shared_->buffer.empty()) break;
      if (shared_->cv.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    // Revoke what is left of the credit so nothing is leased while the application is not asking
    // (a Poll that got all it asked for left none: the common case costs no frame).
    if (granted_to != nullptr && granted_to == shared_->stream && shared_->server_credit > 0) {
      grant(0);
    }
    std::vector<Delivery> out;
    while (!shared_->buffer.empty() && out.size() < max) {
      out.push_back(std::move(shared_->buffer.front()));
      shared_->buffer.pop_front();
    }
    return out;
  }

  void SetReadyCallback(std::function<void()> ready) override {
    std::lock_guard lock(shared_->mu);
    shared_->ready = std::move(ready);
  }

  Status Ack(PartitionId partition, Offset offset) override {
    return Settle(Request::Settle::OP_ACK, partition, offset, std::nullopt, "").status;
  }
  void AckAsync(PartitionId partition, Offset offset, std::function<void(Status)> done) override {
    AckAttemptAsync(partition, offset, 0, std::move(done));
  }
  Status AckAttempt(PartitionId partition, Offset offset, uint32_t attempt) override {
    return Settle(Request::Settle::OP_ACK, partition, offset, std::nullopt, "", attempt).status;
  }
  // Corked (kMaxCorkDelay at most): a consumer that acks what it polled and polls again sends
  // the acks with the next credit, in one frame.
  void AckAttemptAsync(PartitionId partition, Offset offset, uint32_t attempt,
                       std::function<void(Status)> done) override {
    SendSettle(
        MakeSettle(Request::Settle::OP_ACK, partition, offset, std::nullopt, "", attempt),
        [done = std::move(done)](const Response::Settled& settled) { done(ToStatus(settled)); },
        /*cork=*/true);
  }
  // The reply goes in the ack's frame; brokerd sends it to the inbox, then acks.
  void ReplyAndAckAsync(std::string_view inbox, Message reply, PartitionId partition,
                        Offset offset, uint32_t attempt, Transport::ReplyAndAckCallback done) {
    auto settle = MakeSettle(Request::Settle::OP_ACK, partition, offset, std::nullopt, "", attempt);
    auto* wire = settle.mutable_reply();
    wire->set_inbox(std::string(inbox));
    wire->mutable_reply()->set_payload(std::move(reply.payload));
    rpc::ToProto(reply.headers, *wire->mutable_reply()->mutable_headers());
    SendSettle(std::move(settle), [done = std::move(done)](const Response::Settled& settled) {
      const Status sent = rpc::FromGrpc(grpc::Status(
          static_cast<grpc::StatusCode>(settled.reply_code()), settled.reply_message()));
      done(sent, ToStatus(settled));
    });
  }
  Status NackAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                     std::optional<std::chrono::milliseconds> delay, std::string error) override {
    return Settle(Request::Settle::OP_NACK, partition, offset, delay, error, attempt).status;
  }
  Result<TimePoint> ExtendAttempt(PartitionId partition, Offset offset, uint32_t attempt) override {
    auto r = Settle(Request::Settle::OP_EXTEND, partition, offset, std::nullopt, "", attempt);
    if (!r.status.ok()) return r.status;
    return rpc::FromMicros(r.lease_expires_us);
  }
  Status RejectAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                       std::string reason) override {
    return Settle(Request::Settle::OP_REJECT, partition, offset, std::nullopt, reason, attempt)
        .status;
  }
  Status ReleaseAttempt(PartitionId partition, Offset offset, uint32_t attempt) override {
    return Settle(Request::Settle::OP_RELEASE, partition, offset, std::nullopt, "", attempt).status;
  }
  // One SettleBatch frame for the whole batch (a lease-keeping tick, or a closing consumer).
  std::vector<Result<TimePoint>> ExtendAttempts(const std::vector<LeaseRef>& leases) override {
    std::vector<Result<TimePoint>> out;
    for (const SettleOutcome& o : SettleMany(Request::Settle::OP_EXTEND, leases)) {
      out.push_back(o.status.ok() ? Result<TimePoint>(rpc::FromMicros(o.lease_expires_us))
                                  : Result<TimePoint>(o.status));
    }
    return out;
  }
  std::vector<Status> ReleaseAttempts(const std::vector<LeaseRef>& leases) override {
    std::vector<Status> out;
    for (SettleOutcome& o : SettleMany(Request::Settle::OP_RELEASE, leases)) {
      out.push_back(std::move(o.status));
    }
    return out;
  }
  Status Nack(PartitionId partition, Offset offset, std::optional<std::chrono::milliseconds> delay,
              std::string error) override {
    return Settle(Request::Settle::OP_NACK, partition, offset, delay, error).status;
  }
  Result<TimePoint> Extend(PartitionId partition, Offset offset) override {
    auto r = Settle(Request::Settle::OP_EXTEND, partition, offset, std::nullopt, "");
    if (!r.status.ok()) return r.status;
    return rpc::FromMicros(r.lease_expires_us);
  }
  Status Reject(PartitionId partition, Offset offset, std::string reason) override {
    return Settle(Request::Settle::OP_REJECT, partition, offset, std::nullopt, reason).status;
  }

 private:
  struct SettleOutcome {
    Status status;
    int64_t lease_expires_us = 0;
  };

  // `attempt` 0: whichever lease of the message this member holds.
  static Request::Settle MakeSettle(Request::Settle::Op op, PartitionId partition, Offset offset,
                                    std::optional<std::chrono::milliseconds> delay,
                                    const std::string& text, uint32_t attempt = 0) {
    Request::Settle settle;
    settle.set_attempt(attempt);
    settle.set_op(op);
    settle.mutable_ref()->set_partition(partition.value());
    settle.mutable_ref()->set_offset(offset.value());
    if (delay) settle.set_delay_ms(delay->count());
    settle.set_text(text);
    return settle;
  }

  static Status ToStatus(const Response::Settled& answer) {
    return rpc::FromGrpc(
        grpc::Status(static_cast<grpc::StatusCode>(answer.code()), answer.message()));
  }

  // Sends `settle` on the current stream; `on_answer` runs once with the broker's answer, or at
  // once with unavailable when there is no stream. `cork`: may wait for the next frame, up to
  // kMaxCorkDelay (the rejoin thread sends it then).
  void SendSettle(Request::Settle settle, SettleCallback on_answer, bool cork = false) {
    {
      std::lock_guard lock(shared_->mu);
      if (shared_->stream != nullptr) {
        const uint64_t id = shared_->next_request++;
        settle.set_request_id(id);
        shared_->settles.emplace_back(id, std::move(on_answer));
        if (shared_->stream->WriteSettle(std::move(settle), cork) && !shared_->cork_deadline) {
          // The rejoin thread, if already timing an earlier cork, finds this one when it wakes.
          const bool timing = shared_->cork_deadline_armed;
          shared_->cork_deadline = std::chrono::steady_clock::now() + kMaxCorkDelay;
          if (!timing) shared_->rejoin_cv.notify_one();
        }
        return;
      }
    }
    on_answer(Unanswered(grpc::StatusCode::UNAVAILABLE, "not connected to brokerd at " +
                                                            shared_->options.address +
                                                            "; the message will be redelivered"));
  }

  SettleOutcome Settle(Request::Settle::Op op, PartitionId partition, Offset offset,
                       std::optional<std::chrono::milliseconds> delay, const std::string& text,
                       uint32_t attempt = 0) {
    auto promise = std::make_shared<std::promise<Response::Settled>>();
    auto answer = promise->get_future();
    SendSettle(MakeSettle(op, partition, offset, delay, text, attempt),
               [promise](const Response::Settled& settled) { promise->set_value(settled); });
    if (answer.wait_for(shared_->options.call_timeout) != std::future_status::ready) {
      return {Status::DeadlineExceeded("brokerd did not answer within the call timeout"), 0};
    }
    const Response::Settled settled = answer.get();
    return {ToStatus(settled), settled.lease_expires_us()};
  }

  // `op` for each lease, in one SettleBatch frame per kMaxSettlesPerFrame; waits (up to the call
  // timeout in all) for the answers, which come in one frame too.
  std::vector<SettleOutcome> SettleMany(Request::Settle::Op op,
                                        const std::vector<LeaseRef>& leases) {
    std::vector<std::future<Response::Settled>> answers;
    answers.reserve(leases.size());
    bool sent = false;
    {
      std::lock_guard lock(shared_->mu);
      if (shared_->stream != nullptr && !leases.empty()) {
        Request request;
        auto* batch = request.mutable_settle_batch();
        for (const LeaseRef& l : leases) {
          if (batch->settles_size() == kMaxSettlesPerFrame) {
            shared_->stream->Write(std::move(request));
            request = Request();
            batch = request.mutable_settle_batch();
          }
          auto promise = std::make_shared<std::promise<Response::Settled>>();
          answers.push_back(promise->get_future());
          Request::Settle settle =
              MakeSettle(op, l.partition, l.offset, std::nullopt, "", l.attempt);
          const uint64_t id = shared_->next_request++;
          settle.set_request_id(id);
          shared_->settles.emplace_back(
              id, [promise](const Response::Settled& settled) { promise->set_value(settled); });
          *batch->add_settles() = std::move(settle);
        }
        shared_->stream->Write(std::move(request));
        sent = true;
      }
    }
    std::vector<SettleOutcome> out;
    out.reserve(leases.size());
    if (!sent) {
      for (size_t i = 0; i < leases.size(); ++i) {
        out.push_back(
            {Status::Unavailable("not connected to brokerd at " + shared_->options.address +
                                 "; the message will be redelivered"),
             0});
      }
      return out;
    }
    const auto deadline = std::chrono::steady_clock::now() + shared_->options.call_timeout;
    for (auto& answer : answers) {
      if (answer.wait_until(deadline) != std::future_status::ready) {
        out.push_back(
            {Status::DeadlineExceeded("brokerd did not answer within the call timeout"), 0});
        continue;
      }
      const Response::Settled settled = answer.get();
      out.push_back({ToStatus(settled), settled.lease_expires_us()});
    }
    return out;
  }

  // Rejoins the group whenever the stream is lost, with backoff, until closed.
  // Also sends corked acks whose kMaxCorkDelay is up.
  void RejoinLoop() {
    auto backoff = std::chrono::milliseconds(100);
    std::unique_lock lock(shared_->mu);
    for (;;) {
      WaitUntilLost(lock);
      if (shared_->closing) return;
      if (shared_->live_streams == 0) {
        ++shared_->live_streams;
        std::promise<Status> started;
        auto result = started.get_future();
        lock.unlock();
        new Stream(shared_, std::move(started));
        const Status status = result.get();
        lock.lock();
        if (status.ok()) {
          backoff = std::chrono::milliseconds(100);
          continue;
        }
      }
      shared_->rejoin_cv.wait_for(lock, backoff, [&] { return shared_->closing; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }

  // Returns once closing or the stream is lost; meanwhile flushes corked acks when they are due.
  void WaitUntilLost(std::unique_lock<std::mutex>& lock) {
    for (;;) {
      if (shared_->closing || shared_->lost) return;
      if (!shared_->cork_deadline) {
        shared_->rejoin_cv.wait(lock);  // SendSettle wakes it for a new cork
        continue;
      }
      if (std::chrono::steady_clock::now() >= *shared_->cork_deadline) {
        shared_->cork_deadline.reset();
        if (shared_->stream != nullptr) shared_->stream->Flush();  // no-op if sent meanwhile
        continue;
      }
      shared_->cork_deadline_armed = true;
      shared_->rejoin_cv.wait_until(lock, *shared_->cork_deadline);
      shared_->cork_deadline_armed = false;
    }
  }

  std::shared_ptr<Shared> shared_;
  std::string member_;
  std::thread rejoiner_;
};

}  // namespace

bool ReplyAndAckOnStream(Subscription& subscription, std::string_view inbox, Message& reply,
                         PartitionId partition, Offset offset, uint32_t attempt,
                         Transport::ReplyAndAckCallback& done) {
  auto* grpc_subscription = dynamic_cast<GrpcSubscription*>(&subscription);
  if (grpc_subscription == nullptr) return false;
  grpc_subscription->ReplyAndAckAsync(inbox, std::move(reply), partition, offset, attempt,
                                      std::move(done));
  return true;
}

Result<std::unique_ptr<Subscription>> OpenGrpcSubscription(
    std::shared_ptr<v1::BrokerService::Stub> stub, const GrpcTransportOptions& options,
    std::string_view topic, std::string_view group, const SubscribeOptions& subscribe) {
  auto shared = std::make_shared<Shared>();
  shared->stub = std::move(stub);
  shared->options = options;
  shared->max_in_flight = subscribe.max_in_flight == 0 ? 256 : subscribe.max_in_flight;
  auto* start = shared->start.mutable_start();
  start->set_topic(std::string(topic));
  start->set_group(std::string(group));
  start->set_member(subscribe.member);
  start->set_max_in_flight(shared->max_in_flight);
  start->set_merged_answers(true);  // Stream::Handle takes answers from delivery frames
  rpc::ToProto(subscribe.group, *start->mutable_group_config());

  std::promise<Status> started;
  auto result = started.get_future();
  {
    std::lock_guard lock(shared->mu);
    ++shared->live_streams;
  }
  auto* stream = new Stream(shared, std::move(started));
  if (result.wait_for(options.call_timeout) != std::future_status::ready) {
    // The Start may still be accepted later: end the call, so no member joins behind the
    // caller's back (a phantom that would refuse a retry under the same name, keep its
    // per_partition ownership and answer presence probes), and wait until it has ended.
    std::unique_lock lock(shared->mu);
    shared->closing = true;
    // live_streams > 0: OnDone has not finished, so `stream` is still alive (it drops the count
    // under mu just before deleting itself).
    if (shared->live_streams > 0) stream->Cancel();
    shared->cv.wait(lock, [&] { return shared->live_streams == 0; });
    return Status::DeadlineExceeded("brokerd at " + options.address +
                                    " did not accept the subscription in time");
  }
  if (Status s = result.get(); !s.ok()) {
    std::unique_lock lock(shared->mu);
    shared->closing = true;
    shared->cv.wait(lock, [&] { return shared->live_streams == 0; });
    return s;
  }
  return std::unique_ptr<Subscription>(new GrpcSubscription(std::move(shared)));
}

}  // namespace broker::client::grpc_internal
