#include "lease_keeper.h"

#include <algorithm>
#include <string>
#include <vector>

namespace broker::client::internal {
namespace {

using std::chrono::milliseconds;

// A failed extension for another reason than the lease being gone (a call timeout, say) is tried
// again this soon, while the lease is still alive (half of it was left).
constexpr auto kRetryAfter = milliseconds(20);
constexpr auto kMinLeaseTick = milliseconds(1);

// The lease has ended for good: the broker says so, or the member's connection (and with it the
// member's leases) is gone.
bool LeaseEnded(const Status& s) {
  return s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kUnavailable ||
         s.code() == StatusCode::kNotFound;
}

struct Tick {
  std::vector<std::shared_ptr<InFlight>> extend;
  std::vector<std::shared_ptr<InFlight>> release;  // queued past max_lease_extension
  std::vector<std::shared_ptr<InFlight>> give_up;  // running past max_lease_extension
  std::optional<TimePoint> next;                   // the earliest time something falls due
};

// What falls due at `now`; mu held. Queued messages past the limit leave the queue here.
Tick Collect(ConsumerState& state, TimePoint now) {
  Tick tick;
  const auto limit = state.options.max_lease_extension;
  auto due = [&](const std::shared_ptr<InFlight>& f) {
    if (f->settled.load() || !f->keep_alive) return false;
    const TimePoint end = f->leased_at + limit;
    const TimePoint at = std::min(end, f->extend_at);
    if (now < at) {
      if (!tick.next || at < *tick.next) tick.next = at;
      return false;
    }
    return now >= end;  // true: past the limit
  };
  for (const auto& f : state.running) {
    const bool past_limit = due(f);
    if (past_limit) {
      tick.give_up.push_back(f);
    } else if (!f->settled.load() && f->keep_alive && now >= f->extend_at) {
      tick.extend.push_back(f);
    }
  }
  for (auto it = state.queue.begin(); it != state.queue.end();) {
    const auto& f = *it;
    if (due(f)) {
      tick.release.push_back(f);
      it = state.queue.erase(it);
      continue;
    }
    if (!f->settled.load() && f->keep_alive && now >= f->extend_at) tick.extend.push_back(f);
    ++it;
  }
  return tick;
}

}  // namespace

void StartLease(InFlight& flight, const Delivery& delivery, TimePoint now) {
  flight.leased_at = now;
  auto lease = delivery.lease_duration;
  if (lease.count() <= 0) {  // the transport did not say: what is left of this one
    lease = std::chrono::duration_cast<milliseconds>(delivery.lease_expires_at - now);
  }
  flight.lease = std::max(lease, milliseconds(2));
  flight.extend_at = now + flight.lease / 2;
}

void KeepLeases(std::shared_ptr<ConsumerState> state) {
  std::unique_lock lock(state->mu);
  while (state->keeping_leases) {
    const TimePoint now = state->clock->Now();
    Tick tick = Collect(*state, now);
    if (!tick.extend.empty() || !tick.release.empty() || !tick.give_up.empty()) {
      // A handler past the limit keeps running, but its lease is left to expire, which counts as
      // a failed attempt (redelivery with backoff, or a dead letter), as without lease keeping.
      for (const auto& f : tick.give_up) f->keep_alive = false;
      state->Count(state->lease_limit_reached, tick.give_up.size());
      lock.unlock();
      state->Release(tick.release);
      std::vector<LeaseRef> refs;
      refs.reserve(tick.extend.size());
      for (const auto& f : tick.extend) {
        refs.push_back({f->message.record.partition, f->message.record.offset, f->message.attempt});
      }
      std::vector<Result<TimePoint>> results;
      if (!refs.empty()) results = state->subscription->ExtendAttempts(refs);
      const TimePoint after = state->clock->Now();
      lock.lock();
      uint64_t extended = 0, lost = 0;
      for (size_t i = 0; i < tick.extend.size() && i < results.size(); ++i) {
        InFlight& f = *tick.extend[i];
        if (results[i].ok()) {
          f.extend_at = after + f.lease / 2;
          ++extended;
        } else if (LeaseEnded(results[i].status())) {
          f.keep_alive = false;
          f.lease_lost = true;
          ++lost;
        } else {
          f.extend_at = after + std::min<milliseconds>(kRetryAfter, f.lease / 4);
        }
      }
      if (lost > 0) {
        // A queued message whose lease ended is another member's now: never run it here.
        std::erase_if(state->queue, [](const auto& f) { return f->lease_lost; });
      }
      state->Count(state->lease_extensions, extended);
      state->Count(state->leases_lost, lost);
      continue;  // what was extended falls due again later: collect afresh
    }
    if (!state->keeping_leases) break;
    if (!tick.next) {
      // Nothing held: wait for a poll to queue messages (or for Close).
      state->lease_cv.wait(lock);
      continue;
    }
    // The consumer's clock may not be the steady clock (a FakeClock in tests), so sleep no longer
    // than kMaxLeaseTick before looking at it again.
    const auto wait = std::clamp(std::chrono::duration_cast<milliseconds>(*tick.next - now),
                                 kMinLeaseTick, kMaxLeaseTick);
    state->lease_cv.wait_for(lock, wait);
  }
}

}  // namespace broker::client::internal
