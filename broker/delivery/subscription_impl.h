// SubscriptionImpl: a member's handle on its group (broker::Subscription).
//
// Thread safety: as Group; the member name is constant.
#pragma once

#include <memory>
#include <string>

#include "broker/delivery.h"
#include "delivery/group.h"

namespace broker::delivery {

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(std::shared_ptr<Group> group, std::string member)
      : group_(std::move(group)), member_(std::move(member)) {}
  ~SubscriptionImpl() override { group_->Leave(member_); }

  const std::string& member() const override { return member_; }
  Result<std::vector<Delivery>> Poll(size_t max, std::chrono::milliseconds timeout) override {
    return group_->Poll(member_, max, timeout);
  }
  void SetReadyCallback(std::function<void()> ready) override {
    group_->SetReadyCallback(member_, std::move(ready));
  }
  Status Ack(PartitionId partition, Offset offset) override {
    return group_->Ack(member_, partition, offset);
  }
  Status Nack(PartitionId partition, Offset offset, std::optional<std::chrono::milliseconds> delay,
              std::string error) override {
    return group_->Nack(member_, partition, offset, delay, error);
  }
  Result<TimePoint> Extend(PartitionId partition, Offset offset) override {
    return group_->Extend(member_, partition, offset);
  }
  Status Reject(PartitionId partition, Offset offset, std::string reason) override {
    return group_->Reject(member_, partition, offset, reason);
  }

 private:
  const std::shared_ptr<Group> group_;
  const std::string member_;
};

}  // namespace broker::delivery
