#include "consumer_impl.h"

#include <algorithm>

#include "handling_context.h"

namespace broker::client::internal {
namespace {

constexpr auto kPollWait = std::chrono::milliseconds(100);
// After a failed Poll (broker restarting, say), wait this long before trying again.
constexpr auto kRetryWait = std::chrono::milliseconds(200);

}  // namespace

bool InFlight::TryAck(Status* result) {
  if (settled.exchange(true)) return false;
  const Record& r = message.record;
  Status s = state->subscription->Ack(r.partition, r.offset);
  if (s.ok()) state->acked.fetch_add(1);
  if (result != nullptr) *result = std::move(s);
  return true;
}

bool InFlight::TryNack(std::optional<std::chrono::milliseconds> delay, const std::string& error,
                       Status* result) {
  if (settled.exchange(true)) return false;
  const Record& r = message.record;
  Status s = state->subscription->Nack(r.partition, r.offset, delay, error);
  if (s.ok()) state->nacked.fetch_add(1);
  if (result != nullptr) *result = std::move(s);
  return true;
}

bool InFlight::TryReject(const std::string& reason, Status* result) {
  if (settled.exchange(true)) return false;
  const Record& r = message.record;
  Status s = state->subscription->Reject(r.partition, r.offset, reason);
  if (result != nullptr) *result = std::move(s);
  return true;
}

Result<std::unique_ptr<Consumer>> ConsumerImpl::Start(std::unique_ptr<Subscription> subscription,
                                                      std::string topic, std::string group,
                                                      const ConsumerOptions& options,
                                                      Dispatch dispatch) {
  if (options.concurrency == 0) return Status::InvalidArgument("concurrency must be at least 1");
  auto state = std::make_shared<ConsumerState>();
  state->subscription = std::move(subscription);
  state->options = options;
  state->topic = std::move(topic);
  state->group = std::move(group);
  state->dispatch = std::move(dispatch);
  std::unique_ptr<ConsumerImpl> consumer(new ConsumerImpl(state));
  for (uint32_t i = 0; i < options.concurrency; ++i) {
    consumer->workers_.emplace_back([state] { WorkerLoop(state); });
  }
  consumer->poller_ = std::thread([state] { PollLoop(state); });
  return std::unique_ptr<Consumer>(std::move(consumer));
}

ConsumerImpl::ConsumerImpl(std::shared_ptr<ConsumerState> state)
    : state_(std::move(state)), member_(state_->subscription->member()) {}

ConsumerImpl::~ConsumerImpl() { (void)Close(std::nullopt); }

void ConsumerImpl::PollLoop(std::shared_ptr<ConsumerState> state) {
  const auto& options = state->options;
  for (;;) {
    size_t capacity = 0;
    {
      std::unique_lock lock(state->mu);
      if (!state->polling) return;
      // Handler timeouts: abandon handlers that ran too long.
      if (options.handler_timeout.count() > 0) {
        const auto now = std::chrono::steady_clock::now();
        for (const auto& flight : state->running) {
          if (now - flight->started > options.handler_timeout &&
              flight->TryNack(std::nullopt, "handler timed out after " +
                                                std::to_string(options.handler_timeout.count()) +
                                                " ms")) {
            state->timed_out.fetch_add(1);
          }
        }
      }
      const size_t held = state->queue.size() + state->running.size();
      capacity = options.max_in_flight > held ? options.max_in_flight - held : 0;
      if (capacity == 0) {
        state->cv.wait_for(lock, kPollWait);
        continue;
      }
    }
    auto wait = kPollWait;
    if (options.handler_timeout.count() > 0) {
      wait = std::max(std::chrono::milliseconds(1), std::min(wait, options.handler_timeout / 4));
    }
    auto polled = state->subscription->Poll(capacity, wait);
    std::unique_lock lock(state->mu);
    if (!polled.ok()) {
      state->cv.wait_for(lock, kRetryWait, [&] { return !state->polling; });
      continue;
    }
    for (Delivery& d : *polled) {
      auto flight = std::make_shared<InFlight>();
      flight->message = ReceivedMessage{state->topic, state->group, std::move(d.record), d.attempt};
      flight->state = state.get();
      state->queue.push_back(std::move(flight));
      state->delivered.fetch_add(1);
    }
    if (!polled->empty()) state->cv.notify_all();
  }
}

void ConsumerImpl::WorkerLoop(std::shared_ptr<ConsumerState> state) {
  for (;;) {
    std::shared_ptr<InFlight> flight;
    {
      std::unique_lock lock(state->mu);
      state->cv.wait(lock, [&] { return state->stopping || !state->queue.empty(); });
      if (state->queue.empty()) return;  // stopping and nothing left
      flight = std::move(state->queue.front());
      state->queue.pop_front();
      flight->started = std::chrono::steady_clock::now();
      state->running.insert(flight);
    }
    {
      ScopedCurrentMessage current(&flight->message);
      try {
        state->dispatch(*flight);
      } catch (const std::exception& e) {
        flight->TryNack(std::nullopt, e.what());
      } catch (...) {
        flight->TryNack(std::nullopt, "handler threw a non-std exception");
      }
    }
    std::unique_ptr<Subscription> released;
    {
      std::lock_guard lock(state->mu);
      state->running.erase(flight);
      if (state->release_when_idle && state->running.empty()) {
        released = std::move(state->subscription);
      }
      state->cv.notify_all();
    }
    // `released` leaves the group here, outside mu.
  }
}

Status ConsumerImpl::Close(std::optional<std::chrono::milliseconds> timeout) {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  const auto limit = timeout.value_or(state_->options.close_timeout);
  {
    std::lock_guard lock(state_->mu);
    state_->polling = false;
  }
  state_->cv.notify_all();
  if (poller_.joinable()) poller_.join();

  std::unique_lock lock(state_->mu);
  // Delivered but not started: back to the group at once.
  for (auto& flight : state_->queue) flight->TryNack(std::chrono::milliseconds(0), "consumer closed before handling");
  state_->queue.clear();
  state_->stopping = true;
  state_->cv.notify_all();
  const bool drained =
      state_->cv.wait_for(lock, limit, [&] { return state_->running.empty(); });
  if (!drained) {
    state_->release_when_idle = true;
    for (const auto& flight : state_->running) {
      flight->TryNack(std::chrono::milliseconds(0), "consumer closed before the handler finished");
    }
  }
  lock.unlock();
  for (auto& worker : workers_) {
    // A handler still running past the timeout keeps its thread (its message is already nacked);
    // the shared state it holds keeps everything it touches alive.
    if (drained) {
      worker.join();
    } else {
      worker.detach();
    }
  }
  workers_.clear();
  if (drained) state_->subscription.reset();  // leaves the group
  return drained ? Status::Ok()
                 : Status::DeadlineExceeded("some handlers did not finish within " +
                                            std::to_string(limit.count()) +
                                            " ms; their messages were nacked");
}

ConsumerStats ConsumerImpl::stats() const {
  ConsumerStats s;
  s.delivered = state_->delivered.load();
  s.acked = state_->acked.load();
  s.nacked = state_->nacked.load();
  s.timed_out = state_->timed_out.load();
  s.dropped_expired_requests = state_->dropped_expired.load();
  s.undeliverable_replies = state_->undeliverable_replies.load();
  return s;
}

}  // namespace broker::client::internal
