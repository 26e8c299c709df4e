#include "storage/append_notifier.h"

#include <algorithm>

namespace broker::storage {

AppendNotifier::ListenerId AppendNotifier::AddListener(Listener listener) {
  std::unique_lock lock(listeners_mu_);
  ListenerId id = next_id_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void AppendNotifier::RemoveListener(ListenerId id) {
  std::unique_lock lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& entry) { return entry.first == id; });
}

void AppendNotifier::WakeWaiters() {
  if (waiters_.load() > 0) {
    // Taking the lock orders this notify after a waiter's predicate check, so no wake-up is lost.
    { std::lock_guard lock(mu_); }
    cv_.notify_all();
  }
}

void AppendNotifier::Notify(const std::vector<AppendEvent>& events) {
  if (events.empty()) return;
  WakeWaiters();
  std::shared_lock lock(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener(events);
}

}  // namespace broker::storage
