#include "consumer_impl.h"

#include <algorithm>

#include "handling_context.h"
#include "lease_keeper.h"

namespace broker::client::internal {
namespace {

constexpr auto kPollWait = std::chrono::milliseconds(100);
// After a failed Poll (broker restarting, say), wait this long before trying again.
constexpr auto kRetryWait = std::chrono::milliseconds(200);
// The automatic prefetch holds about this much work queued per handler thread: enough to hide a
// poll's round trip behind fast handlers, little enough that a slow member does not sit on
// messages an idle one could handle.
constexpr auto kPrefetchHorizon = std::chrono::milliseconds(100);

}  // namespace

size_t ConsumerState::HoldTarget() const {
  const size_t threads = options.concurrency;
  size_t queued = options.prefetch;
  if (queued == 0) {
    queued = threads;
    if (handler_time.count() > 0 && handler_time < kPrefetchHorizon) {
      queued =
          std::max<size_t>(threads, threads * static_cast<size_t>(kPrefetchHorizon / handler_time));
    }
  }
  return std::min<size_t>(options.max_in_flight, threads + queued);
}

void ConsumerState::Release(const std::vector<std::shared_ptr<InFlight>>& flights) {
  std::vector<LeaseRef> refs;
  for (const auto& f : flights) {
    if (!f->ClaimForRelease()) continue;
    refs.push_back({f->message.record.partition, f->message.record.offset, f->message.attempt});
  }
  if (refs.empty()) return;
  uint64_t released_now = 0;
  for (const Status& s : subscription->ReleaseAttempts(refs)) {
    if (s.ok()) ++released_now;  // otherwise the lease had ended: redelivered anyway
  }
  Count(released, released_now);
}

bool InFlight::TryAck(Status* result) {
  if (settled.exchange(true)) return false;
  const Record& r = message.record;
  if (result == nullptr) {
    // Nobody waits for the outcome: let the transport pipeline the ack (over gRPC many go in one
    // frame). The subscription, owned by the state, answers every callback before it goes.
    ConsumerState* counted = state;
    state->subscription->AckAttemptAsync(r.partition, r.offset, message.attempt,
                                         [counted](Status s) {
                                           if (s.ok()) counted->Count(counted->acked);
                                         });
    return true;
  }
  Status s = state->subscription->AckAttempt(r.partition, r.offset, message.attempt);
  if (s.ok()) state->Count(state->acked);
  *result = std::move(s);
  return true;
}

bool InFlight::TryReplyAndAck(Transport& transport, std::string_view inbox, Message reply) {
  if (settled.exchange(true)) return false;
  const Record& r = message.record;
  ConsumerState* counted = state;  // answers every callback before it goes, as in TryAck
  transport.ReplyAndAck(*state->subscription, inbox, std::move(reply), r.partition, r.offset,
                        message.attempt, [counted](Status sent, Status acked) {
                          if (sent.code() == StatusCode::kNotFound) {
                            counted->Count(counted->undeliverable_replies);
                          }
                          if (acked.ok()) counted->Count(counted->acked);
                        });
  return true;
}

bool InFlight::TryNack(std::optional<std::chrono::milliseconds> delay, const std::string& error,
                       Status* result) {
  if (settled.exchange(true)) return false;
  const Record& r = message.record;
  Status s = state->subscription->NackAttempt(r.partition, r.offset, message.attempt, delay, error);
  if (s.ok()) state->Count(state->nacked);
  if (result != nullptr) *result = std::move(s);
  return true;
}

bool InFlight::TryReject(const std::string& reason, Status* result) {
  if (settled.exchange(true)) return false;
  const Record& r = message.record;
  Status s = state->subscription->RejectAttempt(r.partition, r.offset, message.attempt, reason);
  if (result != nullptr) *result = std::move(s);
  return true;
}

Result<std::unique_ptr<Consumer>> ConsumerImpl::Start(std::unique_ptr<Subscription> subscription,
                                                      std::string topic, std::string group,
                                                      const ConsumerOptions& options,
                                                      std::shared_ptr<Clock> clock,
                                                      Dispatch dispatch) {
  if (options.concurrency == 0) return Status::InvalidArgument("concurrency must be at least 1");
  if (options.max_lease_extension.count() <= 0) {
    return Status::InvalidArgument("max_lease_extension must be positive");
  }
  auto state = std::make_shared<ConsumerState>();
  state->subscription = std::move(subscription);
  state->options = options;
  state->clock = clock ? std::move(clock) : Clock::System();
  state->topic = std::move(topic);
  state->group = std::move(group);
  state->dispatch = std::move(dispatch);
  std::unique_ptr<ConsumerImpl> consumer(new ConsumerImpl(state));
  for (uint32_t i = 0; i < options.concurrency; ++i) {
    consumer->workers_.emplace_back([state] { WorkerLoop(state); });
  }
  if (options.handler_timeout.count() > 0) {
    consumer->watchdog_ = std::thread([state] { WatchdogLoop(state); });
  }
  consumer->lease_keeper_ = std::thread([state] { KeepLeases(state); });
  return std::unique_ptr<Consumer>(std::move(consumer));
}

ConsumerImpl::ConsumerImpl(std::shared_ptr<ConsumerState> state)
    : state_(std::move(state)), member_(state_->subscription->member()) {}

ConsumerImpl::~ConsumerImpl() { (void)Close(std::nullopt); }

void ConsumerImpl::PollTurn(ConsumerState& state, std::unique_lock<std::mutex>& lock) {
  const size_t held = state.queue.size() + state.running.size();
  const size_t target = std::max<size_t>(state.HoldTarget(), 1);
  const size_t capacity = target > held ? target - held : 0;
  state.poll_in_progress = true;
  lock.unlock();
  auto polled = state.subscription->Poll(capacity, kPollWait);
  lock.lock();
  if (polled.ok()) {
    const TimePoint now = state.clock->Now();
    for (Delivery& d : *polled) {
      auto flight = std::make_shared<InFlight>();
      StartLease(*flight, d, now);
      flight->message = ReceivedMessage{state.topic, state.group, std::move(d.record), d.attempt};
      flight->state = &state;
      state.queue.push_back(std::move(flight));
    }
    state.Count(state.delivered, polled->size());
    if (!polled->empty()) state.lease_cv.notify_one();
  } else {
    // The broker is restarting, say. Keeping the turn while waiting keeps peers from retrying.
    state.idle_cv.wait_for(lock, kRetryWait, [&] { return !state.polling; });
  }
  state.poll_in_progress = false;
  if (!state.polling) state.idle_cv.notify_all();  // Close waits for the turn to end
}

void ConsumerImpl::WorkerLoop(std::shared_ptr<ConsumerState> state) {
  std::unique_lock lock(state->mu);
  for (;;) {
    if (!state->polling) {
      // Closing: what is queued is Close's to nack; leave once it says so.
      state->work_cv.wait(lock, [&] { return state->stopping; });
      return;
    }
    if (state->queue.empty()) {
      const size_t held = state->running.size();
      if (state->poll_in_progress || held >= state->HoldTarget()) {
        state->work_cv.wait(lock);  // a peer is polling, or there is no room
        continue;
      }
      PollTurn(*state, lock);
      // This thread takes the first message; peers take the others, and one takes the next turn
      // at polling, all at once rather than one waking the next.
      const size_t peers = std::min<size_t>(state->queue.size(), state->options.concurrency - 1);
      for (size_t i = 0; i < peers; ++i) state->work_cv.notify_one();
      continue;
    }
    std::shared_ptr<InFlight> flight = std::move(state->queue.front());
    state->queue.pop_front();
    flight->started = std::chrono::steady_clock::now();
    state->running.insert(flight);
    lock.unlock();
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
    const auto took = std::chrono::steady_clock::now() - flight->started;
    std::unique_ptr<Subscription> released;
    lock.lock();
    // A moving average (1/8 weight to the newest run) for the automatic prefetch.
    state->handler_time =
        state->handler_time.count() == 0 ? took : (state->handler_time * 7 + took) / 8;
    state->running.erase(flight);
    if (state->release_when_idle && state->running.empty()) {
      released = std::move(state->subscription);
    }
    if (!state->polling) state->idle_cv.notify_all();  // Close waits for running handlers
    if (released) {
      lock.unlock();
      released.reset();  // leaves the group, outside mu
      lock.lock();
    }
  }
}

void ConsumerImpl::WatchdogLoop(std::shared_ptr<ConsumerState> state) {
  const auto timeout = state->options.handler_timeout;
  const auto period = std::max(std::chrono::milliseconds(1), std::min(kPollWait, timeout / 4));
  const std::string why = "handler timed out after " + std::to_string(timeout.count()) + " ms";
  std::unique_lock lock(state->mu);
  while (state->polling) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<InFlight>> late;
    for (const auto& flight : state->running) {
      if (now - flight->started > timeout && !flight->settled.load()) late.push_back(flight);
    }
    if (!late.empty()) {
      // Nacks are broker calls (a round trip over gRPC): workers must not wait on mu for them.
      lock.unlock();
      for (const auto& flight : late) {
        if (flight->TryNack(std::nullopt, why)) state->Count(state->timed_out);
      }
      lock.lock();
      continue;
    }
    state->idle_cv.wait_for(lock, period, [&] { return !state->polling; });
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
  state_->work_cv.notify_all();
  state_->idle_cv.notify_all();
  if (watchdog_.joinable()) watchdog_.join();

  std::unique_lock lock(state_->mu);
  // A poll in progress ends within its wait; what it leased is queued.
  state_->idle_cv.wait(lock, [&] { return !state_->poll_in_progress; });
  // Leased but never started: back to the group at once, the attempt not counted (no handler saw
  // it), so another member gets it as if this one had never leased it.
  std::vector<std::shared_ptr<InFlight>> queued(state_->queue.begin(), state_->queue.end());
  state_->queue.clear();
  state_->stopping = true;
  state_->work_cv.notify_all();
  lock.unlock();
  state_->Release(queued);
  lock.lock();
  // Running handlers keep their leases extended (by the lease keeper) while they finish.
  const bool drained =
      state_->idle_cv.wait_for(lock, limit, [&] { return state_->running.empty(); });
  std::vector<std::shared_ptr<InFlight>> unfinished;
  if (!drained) unfinished.assign(state_->running.begin(), state_->running.end());
  state_->keeping_leases = false;
  lock.unlock();
  state_->lease_cv.notify_all();
  if (lease_keeper_.joinable()) lease_keeper_.join();
  // Outside mu (broker calls); the subscription stays ours until release_when_idle is set below.
  for (const auto& flight : unfinished) {
    flight->TryNack(std::chrono::milliseconds(0), "consumer closed before the handler finished");
  }
  lock.lock();
  // Handlers that finished meanwhile are past their last use of the subscription.
  const bool all_done = state_->running.empty();
  if (!all_done) state_->release_when_idle = true;
  lock.unlock();
  for (auto& worker : workers_) {
    // A handler still running past the timeout keeps its thread (its message is already nacked);
    // the shared state it holds keeps everything it touches alive.
    if (all_done) {
      worker.join();
    } else {
      worker.detach();
    }
  }
  workers_.clear();
  if (all_done) state_->subscription.reset();  // leaves the group
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
  s.released = state_->released.load();
  s.lease_extensions = state_->lease_extensions.load();
  s.leases_lost = state_->leases_lost.load();
  s.lease_limit_reached = state_->lease_limit_reached.load();
  return s;
}

bool ConsumerImpl::WaitForStats(const std::function<bool(const ConsumerStats&)>& condition,
                                std::chrono::milliseconds timeout) const {
  return state_->stats_signal.Wait([&] { return condition(stats()); }, timeout);
}

}  // namespace broker::client::internal
