// StatsSignal: lets threads wait for counters (kept elsewhere, in atomics or under their own lock)
// to reach a condition, woken by each change instead of polling them.
//
// Thread safety: any thread. Changed() costs one atomic load while nobody waits, so it sits on
// hot paths (every ack). Call it after the change is visible to the condition and without holding
// a lock the condition takes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace broker::client::internal {

class StatsSignal {
 public:
  void Changed() {
    // Sequentially consistent with Wait's increment: either this sees the waiter and wakes it, or
    // the waiter's first check of the condition comes after it and sees the change.
    if (waiters_.load() == 0) return;
    { std::lock_guard lock(mu_); }  // a waiter between its check and its sleep has gone to sleep
    cv_.notify_all();
  }

  // True once `condition()` holds; false if `timeout` passed first.
  template <typename Condition>
  bool Wait(Condition condition, std::chrono::milliseconds timeout) {
    waiters_.fetch_add(1);
    bool held = false;
    {
      std::unique_lock lock(mu_);
      held = cv_.wait_for(lock, timeout, condition);
    }
    waiters_.fetch_sub(1);
    return held;
  }

 private:
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace broker::client::internal
