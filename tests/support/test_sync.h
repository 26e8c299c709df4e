// Synchronisation helpers for every test tier (unit, conformance, integration): every wait has a
// deadline and ends as soon as its condition holds, so no test sleeps to wait for something to
// happen. The one place that polls is Eventually, for state another process holds.
//
// Thread safety: Gate and Recorder are safe to use from any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace broker::testing {

// Default deadline for conditions that should hold almost at once: generous, because a loaded CI
// machine is slow, and it only matters when a test is failing.
inline constexpr std::chrono::milliseconds kWait = std::chrono::seconds(15);

// True once the stats of `source` (a client::Consumer or client::Client) satisfy `condition`,
// woken by each change of them (WaitForStats); false if `timeout` passed first.
template <typename Source, typename Condition>
bool StatsReach(const Source& source, Condition condition,
                std::chrono::milliseconds timeout = kWait) {
  return source.WaitForStats(condition, timeout);
}

// Checks `condition` until it holds or `timeout` passes; returns whether it held. Only for state
// that can tell nobody when it changes: what another process holds (brokerd's groups, a metrics
// scrape, a NATS server's view, a server coming up). Everything in this process has a
// notification: Gate, Recorder, StatsReach. The pause between checks starts at 1 ms and doubles up
// to `max_interval`, so a condition that holds soon is seen soon and a slow one is not hammered.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = kWait,
                       std::chrono::milliseconds max_interval = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::milliseconds interval(1);
  while (!condition()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(interval, deadline - now));
    interval = std::min(interval * 2, max_interval);
  }
  return true;
}

// A one-shot latch: Wait blocks until Open is called (or the timeout passes).
class Gate {
 public:
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return open_; });
  }
  bool is_open() const {
    std::lock_guard lock(mu_);
    return open_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;  // guarded by mu_
};

// A handler's slow work (the seed's payment charge that takes seconds), owned by a test: For()
// works until `duration` passes or the test calls Stop(), which ends every current and later
// For() at once, so a test that is over does not wait out its handlers. Not a way to wait for a
// condition: use Gate, Recorder or Eventually for that.
class SimulatedWork {
 public:
  void For(std::chrono::milliseconds duration) { (void)stopped_.Wait(duration); }
  void Stop() { stopped_.Open(); }

 private:
  Gate stopped_;
};

// Collects values from handler threads; tests wait for a number of them.
template <typename T>
class Recorder {
 public:
  void Add(T value) {
    {
      std::lock_guard lock(mu_);
      values_.push_back(std::move(value));
    }
    cv_.notify_all();
  }
  // True once at least `n` values have been added; false if `timeout` passed first.
  bool WaitForCount(size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return values_.size() >= n; });
  }
  std::vector<T> values() const {
    std::lock_guard lock(mu_);
    return values_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return values_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<T> values_;  // guarded by mu_
};

}  // namespace broker::testing
