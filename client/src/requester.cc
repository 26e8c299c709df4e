#include "requester.h"

#include <random>

#include "broker/client/headers.h"
#include "handling_context.h"

namespace broker::client::internal {
namespace {

std::string RandomPrefix() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> dist;
  static const char* kHex = "0123456789abcdef";
  uint64_t v = dist(device);
  std::string out;
  for (int i = 0; i < 16; ++i, v >>= 4) out.push_back(kHex[v & 0xf]);
  return out;
}

}  // namespace

Requester::Requester(Transport& transport, std::shared_ptr<Clock> clock)
    : transport_(transport), clock_(std::move(clock)) {
  sink_->target = this;  // before any thread can see the sink
  timer_ = std::thread([this] { TimerLoop(); });
}

Requester::~Requester() { Close(); }

Result<std::shared_ptr<Inbox>> Requester::CurrentInbox() {
  // One OpenInbox at a time, and never under mu_: over gRPC it is a round trip (up to the call
  // timeout), and replies, timeouts, stats and Close must not wait for it.
  std::lock_guard open(open_mu_);
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::FailedPrecondition("the client is closed");
    if (inbox_) return inbox_;
  }
  auto opened = transport_.OpenInbox(
      [sink = sink_](Message reply) {
        std::lock_guard lock(sink->mu);
        if (sink->target != nullptr) sink->target->OnReply(std::move(reply));
      },
      [sink = sink_](Status status) {
        std::lock_guard lock(sink->mu);
        if (sink->target != nullptr) sink->target->OnInboxLost(status);
      });
  if (!opened.ok()) return opened.status();
  std::shared_ptr<Inbox> inbox = std::move(opened).value();
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      inbox_ = inbox;
      return inbox;
    }
  }
  return Status::Cancelled("the client was closed");  // the new inbox closes here, outside mu_
}

std::future<Result<Reply>> Requester::Request(std::string_view topic, std::string payload,
                                              std::chrono::milliseconds timeout, Headers headers) {
  std::promise<Result<Reply>> failed;
  auto fail = [&failed](Status s) {
    failed.set_value(std::move(s));
    return failed.get_future();
  };
  if (timeout.count() <= 0)
    return fail(Status::InvalidArgument("request timeout must be positive"));
  static const std::string prefix = RandomPrefix();
  auto current = CurrentInbox();
  if (!current.ok()) return fail(current.status());
  std::shared_ptr<Inbox> inbox = std::move(current).value();
  // The deadline a responder checks is read before the one this requester times out at, so once
  // the requester has reported deadline_exceeded, every responder finds the request expired. Read
  // the other way round, a thread preempted between the two reads made the responder's deadline
  // later than the requester's, and it handled a request its requester had already given up on.
  const auto wall_deadline =
      clock_->Now() + std::chrono::duration_cast<std::chrono::microseconds>(timeout);
  std::string correlation_id;
  std::future<Result<Reply>> future;
  std::chrono::steady_clock::time_point deadline;
  bool wake_timer = false;
  bool only_pending = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return fail(Status::FailedPrecondition("the client is closed"));
    correlation_id = prefix + "-" + std::to_string(++next_id_);
    deadline = std::chrono::steady_clock::now() + timeout;
    Pending& pending = pending_[correlation_id];
    pending.deadline = deadline;
    future = pending.promise.get_future();
    // The timer needs waking only for a deadline before the time it sleeps until.
    wake_timer = deadline < timer_wakes_at_;
    deadlines_.emplace(deadline, correlation_id);
    ++requests_;
    only_pending = pending_.size() == 1;
  }
  if (wake_timer) cv_.notify_all();
  stats_signal_.Changed();

  PropagateContext(headers, /*with_correlation=*/false);
  headers.emplace_back(std::string(kReplyToHeader), inbox->address());
  headers.emplace_back(std::string(kCorrelationIdHeader), correlation_id);
  headers.emplace_back(std::string(kDeadlineHeader),
                       std::to_string(wall_deadline.time_since_epoch().count()));
  Message request;
  request.payload = std::move(payload);
  request.headers = std::move(headers);
  // The transport may answer after this requester is gone (a publish still in flight when the
  // client closes), so the failure reaches it only through the sink, as replies do.
  transport_.PublishRequest(*inbox, topic, std::move(request), correlation_id, deadline,
                            only_pending, [sink = sink_, correlation_id](Status not_published) {
                              std::lock_guard lock(sink->mu);
                              if (sink->target != nullptr)
                                sink->target->Complete(correlation_id, std::move(not_published),
                                                       /*is_reply=*/false);
                            });
  return future;
}

void Requester::OnReply(Message reply) {
  std::string correlation_id;
  std::optional<std::string> error;
  for (const auto& [name, value] : reply.headers) {
    if (name == kCorrelationIdHeader) correlation_id = value;
    if (name == kErrorHeader) error = value;
  }
  if (error) {
    Complete(correlation_id, Status(StatusCode::kAborted, "the responder failed: " + *error),
             /*is_reply=*/true);
  } else {
    Complete(correlation_id, Reply{std::move(reply.payload), std::move(reply.headers)},
             /*is_reply=*/true);
  }
}

void Requester::Complete(const std::string& correlation_id, Result<Reply> result, bool is_reply) {
  std::promise<Result<Reply>> promise;
  {
    std::unique_lock lock(mu_);
    auto it = pending_.find(correlation_id);
    if (it == pending_.end()) {
      // A second reply, or one after the timeout or the close: dropped and counted. A failure
      // to publish for a request already ended (timed out, or failed with its lost inbox) is no
      // reply: dropped only.
      if (!is_reply) return;
      ++late_replies_;
      lock.unlock();
      stats_signal_.Changed();
      return;
    }
    promise = std::move(it->second.promise);
    auto range = deadlines_.equal_range(it->second.deadline);
    for (auto d = range.first; d != range.second; ++d) {
      if (d->second == correlation_id) {
        deadlines_.erase(d);
        break;
      }
    }
    pending_.erase(it);
  }
  promise.set_value(std::move(result));
}

void Requester::OnInboxLost(const Status& status) {
  std::unordered_map<std::string, Pending> pending;
  std::shared_ptr<Inbox> lost;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_);
    deadlines_.clear();
    lost = std::move(inbox_);
  }
  for (auto& [id, p] : pending) {
    p.promise.set_value(Status::Unavailable("the reply inbox was lost (" + status.message() +
                                            "); the request may or may not have been handled"));
  }
  // `lost` is destroyed here, outside mu_ (its destructor may wait for the transport).
}

void Requester::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!closed_) {
    if (deadlines_.empty()) {
      timer_wakes_at_ = std::chrono::steady_clock::time_point::max();
      cv_.wait(lock);
      continue;
    }
    const auto next = deadlines_.begin()->first;
    if (std::chrono::steady_clock::now() < next) {
      // Requests completed before `next` leave it early; it wakes then and finds less to do.
      timer_wakes_at_ = next;
      cv_.wait_until(lock, next);
      continue;
    }
    const std::string id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    std::promise<Result<Reply>> promise = std::move(it->second.promise);
    pending_.erase(it);
    lock.unlock();
    promise.set_value(Status::DeadlineExceeded("no reply within the request timeout"));
    lock.lock();
  }
}

void Requester::Close() {
  std::unordered_map<std::string, Pending> pending;
  std::shared_ptr<Inbox> inbox;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    pending.swap(pending_);
    deadlines_.clear();
    inbox = std::move(inbox_);
  }
  cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  {
    std::lock_guard lock(sink_->mu);
    sink_->target = nullptr;
  }
  inbox.reset();  // closes the inbox: late replies get not_found
  for (auto& [id, p] : pending) p.promise.set_value(Status::Cancelled("the client was closed"));
}

ClientStats Requester::stats() const {
  std::lock_guard lock(mu_);
  return ClientStats{requests_, late_replies_};
}

bool Requester::WaitForStats(const std::function<bool(const ClientStats&)>& condition,
                             std::chrono::milliseconds timeout) const {
  return stats_signal_.Wait([&] { return condition(stats()); }, timeout);
}

}  // namespace broker::client::internal
