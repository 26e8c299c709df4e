// FakeClock: a Clock that moves only when told. For tests of retention, dedupe windows, leases
// and backoff, which then need no sleeps.
//
// Thread safety: all methods are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>

#include "broker/clock.h"

namespace broker::testing {

class FakeClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z unless told otherwise, so timestamps look like real ones.
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::microseconds(1767225600000000LL)))
      : now_us_(start.time_since_epoch().count()) {}

  TimePoint Now() const override { return TimePoint(std::chrono::microseconds(now_us_.load())); }
  void Advance(std::chrono::microseconds d) { now_us_.fetch_add(d.count()); }
  void Set(TimePoint t) { now_us_.store(t.time_since_epoch().count()); }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace broker::testing
