#include "torture_history.h"

namespace broker::torture {

void TortureHistory::PublishCall(const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  for (const auto& id : ids) ++publishes_[id].calls;
}

void TortureHistory::PublishAnswer(const std::vector<std::string>& ids,
                                   const Result<std::vector<PublishResult>>& answer) {
  const SteadyTime now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    PublishRecord& record = publishes_[ids[i]];
    if (!answer.ok() || answer->size() != ids.size()) {
      ++record.failed_calls;
      continue;
    }
    if (record.acknowledged) continue;  // the caller stops at the first acknowledgement
    record.acknowledged = true;
    record.result = (*answer)[i];
    record.answered_duplicate = (*answer)[i].duplicate;
    record.acknowledged_at = now;
    ++acknowledged_;
  }
}

void TortureHistory::Delivered(DeliveryEvent event) {
  std::lock_guard lock(mu_);
  deliveries_.push_back(std::move(event));
}

void TortureHistory::Settled(SettleEvent event) {
  std::lock_guard lock(mu_);
  settles_.push_back(std::move(event));
}

void TortureHistory::BrokerKilled(SteadyTime at) {
  std::lock_guard lock(mu_);
  kills_.push_back(at);
}

std::map<std::string, PublishRecord> TortureHistory::publishes() const {
  std::lock_guard lock(mu_);
  return publishes_;
}

std::vector<DeliveryEvent> TortureHistory::deliveries() const {
  std::lock_guard lock(mu_);
  return deliveries_;
}

std::vector<SettleEvent> TortureHistory::settles() const {
  std::lock_guard lock(mu_);
  return settles_;
}

std::vector<SteadyTime> TortureHistory::kills() const {
  std::lock_guard lock(mu_);
  return kills_;
}

uint64_t TortureHistory::acknowledged() const {
  std::lock_guard lock(mu_);
  return acknowledged_;
}

}  // namespace broker::torture
