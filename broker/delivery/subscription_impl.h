// SubscriptionImpl: a member's handle on its group (broker::Subscription).
//
// Thread safety: as Group; the member name is constant.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "broker/delivery.h"
#include "delivery/group.h"

namespace broker::delivery {

class SubscriptionImpl final : public Subscription {
 public:
  // `subscribed` counts the subscriptions alive (DeliveryManager::HasMembers).
  SubscriptionImpl(std::shared_ptr<Group> group, std::string member,
                   std::shared_ptr<std::atomic<uint64_t>> subscribed)
      : group_(std::move(group)), member_(std::move(member)), subscribed_(std::move(subscribed)) {
    subscribed_->fetch_add(1, std::memory_order_relaxed);
  }
  ~SubscriptionImpl() override {
    group_->Leave(member_);
    subscribed_->fetch_sub(1, std::memory_order_relaxed);
  }

  const std::string& member() const override { return member_; }
  Result<std::vector<Delivery>> Poll(size_t max, std::chrono::milliseconds timeout) override {
    auto polled = group_->Poll(member_, max, timeout);
    if (polled.ok()) {
      for (Delivery& d : *polled) d.lease_duration = group_->ack_timeout();
    }
    return polled;
  }
  void SetReadyCallback(std::function<void()> ready) override {
    group_->SetReadyCallback(member_, std::move(ready));
  }
  Status Ack(PartitionId partition, Offset offset) override {
    return group_->Ack(member_, partition, offset, 0);
  }
  Status Nack(PartitionId partition, Offset offset, std::optional<std::chrono::milliseconds> delay,
              std::string error) override {
    return group_->Nack(member_, partition, offset, 0, delay, error);
  }
  Result<TimePoint> Extend(PartitionId partition, Offset offset) override {
    return group_->Extend(member_, partition, offset, 0);
  }
  Status Reject(PartitionId partition, Offset offset, std::string reason) override {
    return group_->Reject(member_, partition, offset, 0, reason);
  }
  Status AckAttempt(PartitionId partition, Offset offset, uint32_t attempt) override {
    return group_->Ack(member_, partition, offset, attempt);
  }
  void AckAttemptAsync(PartitionId partition, Offset offset, uint32_t attempt,
                       std::function<void(Status)> done) override {
    done(group_->Ack(member_, partition, offset, attempt));
  }
  Status NackAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                     std::optional<std::chrono::milliseconds> delay, std::string error) override {
    return group_->Nack(member_, partition, offset, attempt, delay, error);
  }
  Result<TimePoint> ExtendAttempt(PartitionId partition, Offset offset,
                                  uint32_t attempt) override {
    return group_->Extend(member_, partition, offset, attempt);
  }
  Status RejectAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                       std::string reason) override {
    return group_->Reject(member_, partition, offset, attempt, reason);
  }
  Status ReleaseAttempt(PartitionId partition, Offset offset, uint32_t attempt) override {
    return group_->Release(member_, partition, offset, attempt);
  }
  Status AckPersisted(PartitionId partition, Offset offset, uint32_t attempt) override {
    return group_->AckPersisted(member_, partition, offset, attempt);
  }

 private:
  const std::shared_ptr<Group> group_;
  const std::string member_;
  const std::shared_ptr<std::atomic<uint64_t>> subscribed_;
};

}  // namespace broker::delivery
