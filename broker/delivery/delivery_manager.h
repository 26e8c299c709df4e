// DeliveryManager: every consumer group of the broker: creation, loading at open, lookup,
// subscriptions, the timer thread (lease expiry, delayed redelivery, batched ack persistence) and
// wake-ups on new appends.
//
// Thread safety: all methods are thread-safe. mu_ guards the group map; it is taken by the writer
// thread (append listener), so nothing waits on the writer while holding it. create_mu_ serialises
// group creation and deletion, which do wait on the writer. Lock order:
//   create_mu_ -> mu_ -> Group::mu_ -> LogWriter queue mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/delivery.h"
#include "broker/options.h"
#include "delivery/group.h"
#include "storage/append_notifier.h"

namespace broker::delivery {

// The groups that leased records to parked members inside one append's commit (a direct
// hand-off, Group::StageHandOff). Finish, with the commit's outcome, completes or undoes them.
// Writer thread only.
class HandOff {
 public:
  void Finish(bool committed);

 private:
  friend class DeliveryManager;
  std::vector<std::shared_ptr<Group>> groups_;
};

class DeliveryManager {
 public:
  DeliveryManager(DeliveryContext context, storage::AppendNotifier& notifier,
                  const Options& options);
  ~DeliveryManager();  // Stop()

  // Loads every group from the groups CF. Call once, before Start.
  Status Load();
  void Start();
  // Stops the timer thread, persists pending changes of every group and closes them.
  void Stop();

  Status CreateGroup(std::string_view topic, std::string_view group, const GroupConfig& config);
  Result<std::vector<GroupInfo>> ListGroups(std::string_view topic);
  Result<std::shared_ptr<Group>> Find(std::string_view topic, std::string_view group);
  Status DeleteGroup(std::string_view topic, std::string_view group);
  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  const SubscribeOptions& options);
  Result<std::vector<MessageGroupState>> StatesOf(std::string_view topic, PartitionId partition,
                                                  Offset offset);
  // Deletes the state of every group of a topic that is about to be deleted.
  // kFailedPrecondition if one has subscribed members, or the topic is a group's dead-letter
  // topic (deleting that group first is the way).
  Status DropTopicGroups(std::string_view topic);
  Status RunTimers();
  bool HasSubscribers(std::string_view topic) const;
  // Interest retention: per partition of `topic`, the lowest ack floor among its groups, with
  // every group's state behind it committed (Group::CommittedAckFloors). nullopt if the topic has
  // no group. An error (a group's write failed) means: delete nothing of this topic now.
  Result<std::optional<std::vector<uint64_t>>> SettledFloors(storage::TopicId topic) const;
  // Dead-letter retention: per dead-letter topic (by id), the offset below which no group holds
  // a letter of it (Group::CommittedDeadLetterFloor). The first error of any group fails it all.
  Result<std::map<uint32_t, uint64_t>> DeadLetterFloors() const;

  // Whether any group has a member now (a hint: it may change at once). Publishes look for a
  // direct hand-off (StageHandOff) only then.
  bool HasMembers() const { return subscribed_->load(std::memory_order_relaxed) > 0; }
  // Writer thread, inside the commit that appends `messages` to `topic` at `positions` with
  // `timestamp` (AppendRequest::stage): leases them to parked members of the topic's groups in
  // the same write and notes those groups in `handoff`, whose Finish must run once the commit's
  // outcome is known.
  void StageHandOff(std::string_view topic, rocksdb::WriteBatch& batch,
                    const std::vector<Message>& messages,
                    const std::vector<PublishResult>& positions, TimePoint timestamp,
                    HandOff& handoff);

 private:
  using MapKey = std::pair<uint32_t, std::string>;  // topic id, group name
  std::vector<std::shared_ptr<Group>> GroupsOf(storage::TopicId topic) const;
  std::vector<std::shared_ptr<Group>> AllGroups() const;
  std::optional<TimePoint> RunAllTimers();
  void TimerLoop();
  void RequestFlush();
  // Writes `puts` and deletes the key ranges [first, second) in the groups CF; waits.
  Status WriteState(std::vector<std::pair<std::string, std::string>> puts,
                    std::vector<std::pair<std::string, std::string>> delete_ranges);
  Status DeleteGroupLocked(const std::shared_ptr<Group>& group);

  DeliveryContext context_;
  storage::AppendNotifier& notifier_;
  const bool background_work_;
  const std::chrono::milliseconds flush_interval_;
  storage::AppendNotifier::ListenerId listener_id_ = 0;

  std::mutex create_mu_;
  mutable std::shared_mutex mu_;
  std::map<MapKey, std::shared_ptr<Group>> groups_;  // guarded by mu_
  std::atomic<uint64_t> member_counter_{0};
  // Subscriptions alive (SubscriptionImpl counts itself); shared, as one may outlive the manager.
  const std::shared_ptr<std::atomic<uint64_t>> subscribed_ =
      std::make_shared<std::atomic<uint64_t>>(0);

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool stopping_ = false;  // guarded by timer_mu_
  std::atomic<bool> flush_requested_{false};
  std::thread timer_thread_;
  bool stopped_ = false;  // Stop() ran; guarded by create_mu_
};

}  // namespace broker::delivery
