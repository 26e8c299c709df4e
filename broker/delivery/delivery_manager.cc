#include "delivery/delivery_manager.h"

#include <algorithm>
#include <future>

#include <rocksdb/iterator.h>

#include "delivery/dead_letters.h"
#include "delivery/subscription_impl.h"
#include "storage/byte_order.h"
#include "storage/rocks_status.h"
#include "storage/validation.h"

namespace broker::delivery {
namespace {

constexpr size_t kMaxGroupNameLength = 100;
constexpr size_t kMaxMemberNameLength = 200;
constexpr auto kIdleTimerWait = std::chrono::seconds(1);

Status ValidateGroupName(std::string_view topic, std::string_view group) {
  if (group.empty() || group.size() > kMaxGroupNameLength) {
    return Status::InvalidArgument("group name must be 1-100 characters of [A-Za-z0-9._-], got " +
                                   std::to_string(group.size()) + " characters");
  }
  if (Status s = storage::ValidateTopicName(group); !s.ok()) {
    return Status::InvalidArgument("group name: " + s.message().substr(s.message().find(' ') + 1));
  }
  if (Status s = storage::ValidateTopicName(DeadLetterTopic(topic, group)); !s.ok()) {
    return Status::InvalidArgument("the dead-letter topic name '<topic>.<group>.dlq' would be "
                                   "invalid: " + s.message() + "; use a shorter group name");
  }
  return Status::Ok();
}

Status ValidateGroupConfig(const GroupConfig& config) {
  if (config.max_deliveries == 0) return Status::InvalidArgument("max_deliveries must be at least 1");
  if (config.ack_timeout.count() <= 0 || config.ack_timeout > storage::kMaxDuration) {
    return Status::InvalidArgument("ack_timeout must be positive and at most 100 years");
  }
  if (config.backoff.initial.count() < 0 || config.backoff.max < config.backoff.initial ||
      config.backoff.max > storage::kMaxDuration) {
    return Status::InvalidArgument("backoff: need 0 <= initial <= max <= 100 years");
  }
  // Written so that NaN fails too.
  if (!(config.backoff.multiplier >= 1.0) ||
      !(config.backoff.jitter >= 0 && config.backoff.jitter <= 1)) {
    return Status::InvalidArgument("backoff: multiplier must be >= 1 and jitter in [0, 1]");
  }
  return Status::Ok();
}

}  // namespace

DeliveryManager::DeliveryManager(DeliveryContext context, storage::AppendNotifier& notifier,
                                 const Options& options)
    : context_(std::move(context)),
      notifier_(notifier),
      background_work_(options.background_work),
      flush_interval_(options.ack_flush_interval) {
  context_.wake_timers = [this] { RequestFlush(); };
}

DeliveryManager::~DeliveryManager() { Stop(); }

Status DeliveryManager::Load() {
  const storage::StorageDb& db = *context_.db;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator({}, db.groups()));
  // Groups first ('g' keys), then their cursors, messages and dead letters.
  std::map<MapKey, std::shared_ptr<Group>> loaded;
  const std::string g(1, static_cast<char>(RecordKind::kGroup));
  for (it->Seek(g); it->Valid() && it->key().starts_with(g); it->Next()) {
    ParsedGroupKey key;
    GroupRecord record;
    if (!ParseGroupKey(it->key().ToStringView(), key) ||
        !DecodeGroupRecord(it->value().ToStringView(), record)) {
      return Status::DataLoss("consumer group metadata is corrupt");
    }
    auto topic = context_.registry->Find(record.topic);
    if (!topic || topic->record.id != key.topic) continue;  // topic deleted: state is orphaned
    loaded[{key.topic.value(), key.group}] =
        std::make_shared<Group>(context_, topic, key.group, std::move(record));
  }
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ParsedGroupKey key;
    if (!ParseGroupKey(it->key().ToStringView(), key)) {
      return Status::DataLoss("consumer group state has a malformed key");
    }
    auto found = loaded.find({key.topic.value(), key.group});
    if (found == loaded.end()) continue;
    Group& group = *found->second;
    const std::string_view rest = key.rest;
    const std::string_view value = it->value().ToStringView();
    bool ok = true;
    switch (key.kind) {
      case RecordKind::kGroup:
        break;
      case RecordKind::kCursor: {
        CursorRecord cursor;
        ok = rest.size() == 4 && DecodeCursorRecord(value, cursor);
        if (ok) group.LoadCursor(PartitionId(storage::GetBigEndian32(rest.data())), cursor);
        break;
      }
      case RecordKind::kMessage: {
        MessageRecord message;
        ok = rest.size() == 12 && DecodeMessageRecord(value, message);
        if (ok) {
          group.LoadMessage(PartitionId(storage::GetBigEndian32(rest.data())),
                            Offset(storage::GetBigEndian64(rest.data() + 4)), message);
        }
        break;
      }
      case RecordKind::kDead: {
        DeadRecord dead;
        ok = rest.size() == 8 && DecodeDeadRecord(value, dead);
        if (ok) group.LoadDead(Offset(storage::GetBigEndian64(rest.data())), dead);
        break;
      }
      case RecordKind::kLeaseRun: {  // after the group's 'm' keys, which sort before 'r'
        LeaseRunRecord run;
        ok = rest.size() == 12 && DecodeLeaseRunRecord(value, run);
        if (ok) {
          group.LoadLeaseRun(PartitionId(storage::GetBigEndian32(rest.data())),
                             Offset(storage::GetBigEndian64(rest.data() + 4)), run);
        }
        break;
      }
    }
    if (!ok) {
      return Status::DataLoss("state of group '" + key.group + "' is corrupt");
    }
  }
  if (!it->status().ok()) return storage::FromRocks(it->status(), "loading consumer groups");
  for (auto& [key, group] : loaded) group->FinishLoad();
  std::unique_lock lock(mu_);
  groups_ = std::move(loaded);
  return Status::Ok();
}

void DeliveryManager::Start() {
  listener_id_ = notifier_.AddListener([this](const std::vector<storage::AppendEvent>& events) {
    std::shared_lock lock(mu_);
    uint32_t last_topic = 0;
    for (const auto& event : events) {
      if (event.topic.value() == last_topic) continue;
      last_topic = event.topic.value();
      for (auto it = groups_.lower_bound({last_topic, ""});
           it != groups_.end() && it->first.first == last_topic; ++it) {
        it->second->OnAppend(events);
      }
    }
  });
  if (background_work_) timer_thread_ = std::thread([this] { TimerLoop(); });
}

void DeliveryManager::Stop() {
  std::lock_guard create_lock(create_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(timer_mu_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
  if (listener_id_ != 0) notifier_.RemoveListener(listener_id_);
  for (const auto& group : AllGroups()) {
    (void)group->Flush();  // best effort: what does not reach disk is redelivered after restart
    group->Close();
  }
}

void DeliveryManager::RequestFlush() {
  if (!background_work_ || flush_requested_.exchange(true)) return;
  std::lock_guard lock(timer_mu_);
  timer_cv_.notify_all();
}

std::vector<std::shared_ptr<Group>> DeliveryManager::AllGroups() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<Group>> out;
  for (const auto& [key, group] : groups_) out.push_back(group);
  return out;
}

std::vector<std::shared_ptr<Group>> DeliveryManager::GroupsOf(storage::TopicId topic) const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<Group>> out;
  for (auto it = groups_.lower_bound({topic.value(), ""});
       it != groups_.end() && it->first.first == topic.value(); ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<std::optional<std::vector<uint64_t>>> DeliveryManager::SettledFloors(
    storage::TopicId topic) const {
  std::optional<std::vector<uint64_t>> lowest;
  for (const auto& group : GroupsOf(topic)) {
    auto floors = group->CommittedAckFloors();
    if (!floors.ok()) return floors.status();
    if (!lowest) {
      lowest = std::move(*floors);
      continue;
    }
    for (size_t p = 0; p < lowest->size() && p < floors->size(); ++p) {
      (*lowest)[p] = std::min((*lowest)[p], (*floors)[p]);
    }
  }
  return lowest;
}

Result<std::map<uint32_t, uint64_t>> DeliveryManager::DeadLetterFloors() const {
  std::map<uint32_t, uint64_t> floors;
  for (const auto& group : AllGroups()) {
    auto floor = group->CommittedDeadLetterFloor();
    if (!floor.ok()) return floor.status();
    if (!*floor) continue;
    const auto [topic, offset] = **floor;
    auto [it, inserted] = floors.emplace(topic.value(), offset);
    if (!inserted) it->second = std::min(it->second, offset);
  }
  return floors;
}

std::optional<TimePoint> DeliveryManager::RunAllTimers() {
  std::optional<TimePoint> next;
  for (const auto& group : AllGroups()) {
    auto due = group->RunTimers();
    if (due && (!next || *due < *next)) next = due;
  }
  return next;
}

Status DeliveryManager::RunTimers() {
  RunAllTimers();
  // Flushing after the timers also waits out dead-letter writes they started: the writer commits
  // in queue order.
  for (const auto& group : AllGroups()) {
    if (Status s = group->Flush(); !s.ok()) return s;
  }
  return Status::Ok();
}

void DeliveryManager::TimerLoop() {
  std::unique_lock lock(timer_mu_);
  while (!stopping_) {
    flush_requested_.store(false);
    lock.unlock();
    const auto next_due = RunAllTimers();
    lock.lock();
    auto wait = std::chrono::duration_cast<std::chrono::microseconds>(kIdleTimerWait);
    if (next_due) {
      wait = std::clamp(*next_due - context_.clock->Now(), std::chrono::microseconds(0), wait);
    }
    timer_cv_.wait_for(lock, wait, [this] { return stopping_ || flush_requested_.load(); });
    // Changes are waiting: give them the batching window to accumulate, then persist together.
    if (flush_requested_.load()) timer_cv_.wait_for(lock, flush_interval_, [this] { return stopping_; });
  }
}

Status DeliveryManager::WriteState(std::vector<std::pair<std::string, std::string>> puts,
                                   std::vector<std::pair<std::string, std::string>> delete_ranges) {
  std::promise<Status> committed;
  auto future = committed.get_future();
  storage::AppendRequest request;
  request.durability = Durability::kSync;
  request.extra = [cf = context_.db->groups(), puts = std::move(puts),
                   ranges = std::move(delete_ranges)](rocksdb::WriteBatch& batch,
                                                      const std::vector<PublishResult>&) {
    for (const auto& [begin, end] : ranges) batch.DeleteRange(cf, begin, end);
    for (const auto& [key, value] : puts) batch.Put(cf, key, value);
  };
  request.done = [&committed](Result<std::vector<PublishResult>> r) {
    committed.set_value(r.status());
  };
  if (Status s = context_.writer->Append(std::move(request)); !s.ok()) return s;
  return future.get();
}

Status DeliveryManager::CreateGroup(std::string_view topic, std::string_view group,
                                    const GroupConfig& config) {
  if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
  if (Status s = ValidateGroupName(topic, group); !s.ok()) return s;
  if (Status s = ValidateGroupConfig(config); !s.ok()) return s;
  std::lock_guard create_lock(create_mu_);
  if (stopped_) return Status::Unavailable("the broker is shutting down");
  auto topic_state = context_.registry->Find(topic);
  if (!topic_state) return Status::NotFound("topic '" + std::string(topic) + "' does not exist");
  if (auto dlq = context_.registry->Find(DeadLetterTopic(topic, group));
      dlq && dlq->partitions.size() != 1) {
    return Status::FailedPrecondition("dead-letter topic '" + DeadLetterTopic(topic, group) +
                                      "' exists with more than one partition; delete it first");
  }
  const MapKey key{topic_state->record.id.value(), std::string(group)};
  {
    std::shared_lock lock(mu_);
    if (groups_.contains(key)) {
      return Status::AlreadyExists("group '" + std::string(group) + "' already exists on topic '" +
                                   std::string(topic) + "'");
    }
  }
  // "<topic>.<group>.dlq" is ambiguous (group "eu.mailer" on "shop", group "mailer" on
  // "shop.eu"): a dead-letter topic has one group, whose records point into it by offset.
  const std::string dlq_topic = DeadLetterTopic(topic, group);
  for (const auto& other : AllGroups()) {
    if (other->dlq_topic() == dlq_topic) {
      return Status::FailedPrecondition(
          "group '" + std::string(group) + "' on topic '" + std::string(topic) +
          "' would share the dead-letter topic '" + dlq_topic + "' with group '" + other->name() +
          "' on topic '" + other->topic_name() + "'; choose another group name");
    }
  }
  GroupRecord record{std::string(topic), config, context_.clock->Now()};
  auto created = std::make_shared<Group>(context_, topic_state, std::string(group), record);
  std::vector<std::pair<std::string, std::string>> puts;
  created->InitCursors(puts);
  puts.emplace_back(GroupKey(topic_state->record.id, group), EncodeGroupRecord(record));
  // A group that existed before under this topic id was deleted with DeleteRange; nothing stale.
  if (Status s = WriteState(std::move(puts), {}); !s.ok()) return s;
  std::unique_lock lock(mu_);
  groups_[key] = std::move(created);
  return Status::Ok();
}

Result<std::shared_ptr<Group>> DeliveryManager::Find(std::string_view topic,
                                                     std::string_view group) {
  if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
  auto topic_state = context_.registry->Find(topic);
  if (!topic_state) return Status::NotFound("topic '" + std::string(topic) + "' does not exist");
  std::shared_lock lock(mu_);
  auto it = groups_.find({topic_state->record.id.value(), std::string(group)});
  if (it == groups_.end()) {
    return Status::NotFound("group '" + std::string(group) + "' does not exist on topic '" +
                            std::string(topic) + "'");
  }
  return it->second;
}

Result<std::vector<GroupInfo>> DeliveryManager::ListGroups(std::string_view topic) {
  std::vector<std::shared_ptr<Group>> groups;
  if (topic.empty()) {
    groups = AllGroups();
  } else {
    if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
    auto topic_state = context_.registry->Find(topic);
    if (!topic_state) return Status::NotFound("topic '" + std::string(topic) + "' does not exist");
    groups = GroupsOf(topic_state->record.id);
  }
  std::vector<GroupInfo> out;
  for (const auto& group : groups) out.push_back(group->Describe());
  std::sort(out.begin(), out.end(), [](const GroupInfo& a, const GroupInfo& b) {
    return std::tie(a.topic, a.group) < std::tie(b.topic, b.group);
  });
  return out;
}

Status DeliveryManager::DeleteGroupLocked(const std::shared_ptr<Group>& group) {
  if (Status s = group->CloseIfNoMembers(); !s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> ranges;
  for (RecordKind kind : {RecordKind::kGroup, RecordKind::kCursor, RecordKind::kMessage,
                          RecordKind::kDead, RecordKind::kLeaseRun}) {
    std::string prefix = GroupKeyPrefix(kind, group->topic_id(), group->name());
    ranges.emplace_back(prefix, PrefixEnd(prefix));
  }
  if (Status s = WriteState({}, std::move(ranges)); !s.ok()) return s;
  std::unique_lock lock(mu_);
  groups_.erase({group->topic_id().value(), group->name()});
  return Status::Ok();
}

Status DeliveryManager::DeleteGroup(std::string_view topic, std::string_view group) {
  auto found = Find(topic, group);
  if (!found.ok()) return found.status();
  std::lock_guard create_lock(create_mu_);
  return DeleteGroupLocked(*found);
}

Status DeliveryManager::DropTopicGroups(std::string_view topic) {
  auto topic_state = context_.registry->Find(topic);
  if (!topic_state) return Status::Ok();
  std::lock_guard create_lock(create_mu_);
  // A re-created dead-letter topic would start its offsets again, and its group's dead-letter
  // records (keyed by offset) would name other messages.
  for (const auto& owner : AllGroups()) {
    if (owner->dlq_topic() == topic) {
      return Status::FailedPrecondition("topic '" + std::string(topic) +
                                        "' is the dead-letter topic of group '" + owner->name() +
                                        "' on topic '" + owner->topic_name() +
                                        "'; delete that group first");
    }
  }
  auto groups = GroupsOf(topic_state->record.id);
  for (const auto& group : groups) {
    if (group->member_count() > 0) {
      return Status::FailedPrecondition("topic '" + std::string(topic) + "' has group '" +
                                        group->name() + "' with subscribed members; close them "
                                        "before deleting the topic");
    }
  }
  for (const auto& group : groups) {
    if (Status s = DeleteGroupLocked(group); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::unique_ptr<Subscription>> DeliveryManager::Subscribe(std::string_view topic,
                                                                 std::string_view group,
                                                                 const SubscribeOptions& options) {
  if (options.member.size() > kMaxMemberNameLength) {
    return Status::InvalidArgument("member name is longer than 200 characters");
  }
  auto found = Find(topic, group);
  if (!found.ok() && found.status().code() == StatusCode::kNotFound &&
      context_.registry->Find(topic)) {
    Status created = CreateGroup(topic, group, options.group);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
    found = Find(topic, group);
  }
  if (!found.ok()) return found.status();
  std::string member = options.member;
  if (member.empty()) member = "member-" + std::to_string(++member_counter_);
  if (Status s = (*found)->Join(member, options.max_in_flight); !s.ok()) return s;
  return std::unique_ptr<Subscription>(new SubscriptionImpl(*found, std::move(member), subscribed_));
}

Result<std::vector<MessageGroupState>> DeliveryManager::StatesOf(std::string_view topic,
                                                                 PartitionId partition,
                                                                 Offset offset) {
  if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
  auto topic_state = context_.registry->Find(topic);
  if (!topic_state) return Status::NotFound("topic '" + std::string(topic) + "' does not exist");
  if (partition.value() >= topic_state->partitions.size()) {
    return Status::InvalidArgument("topic '" + std::string(topic) + "' has no partition " +
                                   std::to_string(partition.value()));
  }
  if (offset.value() >= topic_state->partitions[partition.value()]->end_offset.load()) {
    return Status::NotFound("partition " + std::to_string(partition.value()) + " of '" +
                            std::string(topic) + "' has no offset " +
                            std::to_string(offset.value()) + " yet");
  }
  std::vector<MessageGroupState> out;
  for (const auto& group : GroupsOf(topic_state->record.id)) {
    out.push_back(group->StateOf(partition, offset));
  }
  return out;
}

void HandOff::Finish(bool committed) {
  for (const auto& group : groups_) group->FinishHandOff(committed);
  groups_.clear();
}

void DeliveryManager::StageHandOff(std::string_view topic, rocksdb::WriteBatch& batch,
                                   const std::vector<Message>& messages,
                                   const std::vector<PublishResult>& positions,
                                   TimePoint timestamp, HandOff& handoff) {
  auto topic_state = context_.registry->Find(topic);
  if (!topic_state) return;  // created by this very commit: it has no groups yet
  const uint32_t id = topic_state->record.id.value();
  std::shared_lock lock(mu_);
  for (auto it = groups_.lower_bound({id, ""}); it != groups_.end() && it->first.first == id;
       ++it) {
    if (it->second->StageHandOff(batch, messages, positions, timestamp)) {
      handoff.groups_.push_back(it->second);
    }
  }
}

bool DeliveryManager::HasSubscribers(std::string_view topic) const {
  auto topic_state = context_.registry->Find(topic);
  if (!topic_state) return false;
  for (const auto& group : GroupsOf(topic_state->record.id)) {
    if (group->member_count() > 0) return true;
  }
  return false;
}

}  // namespace broker::delivery
