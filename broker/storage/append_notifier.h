// AppendNotifier: wakes readers waiting for new records, and tells listeners (the delivery
// layer) which partitions grew, so nobody polls.
//
// Thread safety: all methods are thread-safe. Listeners run on the writer thread right after a
// commit, with listeners_mu_ held shared: they must not block and must not add or remove
// listeners. mu_ is a leaf lock.
//
// No lost wake-ups: the writer stores the new end offset (seq_cst) and then reads waiters_; a
// waiter increments waiters_ and then reads the end offset. Either the writer sees the waiter and
// notifies under mu_, or the waiter sees the new offset.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "broker/types.h"
#include "storage/keys.h"

namespace broker::storage {

struct AppendEvent {
  TopicId topic;
  PartitionId partition;
  Offset end_offset;
};

class AppendNotifier {
 public:
  using Listener = std::function<void(const std::vector<AppendEvent>&)>;
  using ListenerId = uint64_t;

  ListenerId AddListener(Listener listener);
  void RemoveListener(ListenerId id);

  // Writer thread: after a commit made `events` visible.
  void Notify(const std::vector<AppendEvent>& events);
  // Writer thread: wakes every waiter to re-check its condition (e.g. after a topic deletion,
  // which WaitUntil callers observe through TopicState::deleted). Listeners are not called.
  void WakeWaiters();

  // Blocks until `ready()` is true or the deadline passes. `ready` is evaluated under the
  // notifier's lock after each commit.
  template <typename Ready>
  bool WaitUntil(std::chrono::steady_clock::time_point deadline, Ready ready) {
    std::unique_lock lock(mu_);
    waiters_.fetch_add(1);
    bool ok = cv_.wait_until(lock, deadline, ready);
    waiters_.fetch_sub(1);
    return ok;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> waiters_{0};

  std::shared_mutex listeners_mu_;
  std::vector<std::pair<ListenerId, Listener>> listeners_;  // guarded by listeners_mu_
  ListenerId next_id_ = 1;                                  // guarded by listeners_mu_
};

}  // namespace broker::storage
