// Group: the concurrent shell. Each call takes mu_, asks the clock once, calls GroupState, then
// acts on the result: ships changes (GroupStore), writes dead letters, wakes members. Poll's
// waiting is in group_poll.cc, the direct hand-off in group_handoff.cc.
#include "delivery/group.h"

#include <algorithm>
#include <future>

#include "delivery/dead_letters.h"
#include "storage/log_reader.h"

namespace broker::delivery {

// ---- The log, as GroupState reads it --------------------------------------------------------

Group::Log::Log(const DeliveryContext& context, const storage::TopicState& topic,
                const std::string& group)
    : context_(context), topic_(topic), group_(group), read_ahead_(topic.partitions.size()) {}

Group::Log::~Log() { DropReadAheads(); }

uint64_t Group::Log::FirstOffset(uint32_t partition) {
  return topic_.partitions[partition]->first_offset.load();
}

uint64_t Group::Log::EndOffset(uint32_t partition) {
  return topic_.partitions[partition]->end_offset.load();
}

Result<std::optional<Record>> Group::Log::ReadOne(uint32_t partition, uint64_t offset) {
  auto result = storage::ReadPartition(*context_.db, topic_, PartitionId(partition), Offset(offset),
                                       ReadLimits{.max_records = 1});
  if (result.ok() && !result->records.empty() && result->records[0].offset.value() == offset) {
    return std::optional<Record>(std::move(result->records[0]));
  }
  // Retention deletes from the front and then moves the first offset (read after the record):
  // below it the record is gone for good. Anything else may be a passing fault.
  if (offset < FirstOffset(partition)) return std::optional<Record>();
  const std::string where = "partition " + std::to_string(partition) + " offset " +
                            std::to_string(offset) + " of topic '" + topic_.name + "'";
  if (!result.ok()) {
    return Status(result.status().code(),
                  "reading " + where + " for group '" + group_ + "': " + result.status().message());
  }
  return Status::Unavailable(where + " is missing from the log although retention has not " +
                             "reached it; group '" + group_ + "' keeps it unsettled");
}

Result<ReadResult> Group::Log::ReadFrom(uint32_t partition, uint64_t from, size_t max_records) {
  storage::PartitionReadAhead& ahead = read_ahead_[partition];
  std::atomic<size_t>& held = *context_.read_ahead_bytes;
  const size_t before = ahead.kept_bytes();
  auto result = ahead.Read(*context_.db, topic_, PartitionId(partition), Offset(from),
                           ReadLimits{.max_records = max_records});
  size_t after = ahead.kept_bytes();
  const size_t grown = after > before ? after - before : 0;
  if (grown > 0 && held.load(std::memory_order_relaxed) + grown > kReadAheadBudget) {
    ahead.Clear();
    after = 0;
  }
  if (after >= before) {
    held.fetch_add(after - before, std::memory_order_relaxed);
  } else {
    held.fetch_sub(before - after, std::memory_order_relaxed);
  }
  return result;
}

void Group::Log::DropReadAheads() {
  for (storage::PartitionReadAhead& ahead : read_ahead_) {
    context_.read_ahead_bytes->fetch_sub(ahead.kept_bytes(), std::memory_order_relaxed);
    ahead.Clear();
  }
}

// ---- Construction and loading ---------------------------------------------------------------

Group::Group(DeliveryContext context, std::shared_ptr<storage::TopicState> topic, std::string name,
             GroupRecord record)
    : context_(std::move(context)),
      topic_(std::move(topic)),
      name_(std::move(name)),
      record_(std::move(record)),
      dlq_topic_(DeadLetterTopic(record_.topic, name_)),
      state_(record_.topic, name_, record_.config,
             static_cast<uint32_t>(topic_->partitions.size())),
      store_(context_.db, context_.writer, topic_->record.id, name_),
      log_(context_, *topic_, name_) {}

Group::~Group() = default;

void Group::LoadCursor(PartitionId partition, const CursorRecord& cursor) {
  MutexLock lock(mu_);
  state_.LoadCursor(partition.value(), cursor);
}

void Group::LoadMessage(PartitionId partition, Offset offset, const MessageRecord& message) {
  MutexLock lock(mu_);
  state_.LoadMessage(partition.value(), offset.value(), message);
}

void Group::LoadDead(Offset dlq_offset, const DeadRecord& dead) {
  MutexLock lock(mu_);
  state_.LoadDead(dlq_offset.value(), dead);
}

void Group::LoadLeaseRun(PartitionId partition, Offset first, const LeaseRunRecord& run) {
  MutexLock lock(mu_);
  state_.LoadLeaseRun(partition.value(), first.value(), run);
}

void Group::FinishLoad() {
  MutexLock lock(mu_);
  state_.FinishLoad(Now());
}

void Group::InitCursors(std::vector<std::pair<std::string, std::string>>& puts) {
  MutexLock lock(mu_);
  std::vector<uint64_t> starts;
  for (const auto& partition : topic_->partitions) {
    starts.push_back(record_.config.start == StartPosition::kLatest
                         ? partition->end_offset.load()
                         : partition->first_offset.load());
  }
  state_.InitCursors(starts);
  for (auto& put : store_.CursorPuts(state_)) puts.push_back(std::move(put));
}

// ---- Effects, shipping, closing -------------------------------------------------------------

void Group::Apply(Effects& effects) {
  if (!effects.dead_letters.empty()) {
    // Earlier changes go first (a dead-pending message's own record among them), so each
    // dead-letter write is the last word on its message.
    Ship(Durability::kAsync, nullptr);
    for (const DeadLetterJob& job : effects.dead_letters) StartDeadLetterWrite(job);
  }
  switch (effects.wake) {
    case Effects::Wake::kNone:
      break;
    case Effects::Wake::kWaiters:
      cv_.notify_all();
      break;
    case Effects::Wake::kMembers:
      WakeMembers();
      break;
  }
}

void Group::WakeMembers() {
  cv_.notify_all();
  for (auto& [member, ready] : ready_) {
    if (ready) ready();
  }
}

void Group::Ship(Durability durability, std::function<void(const Status&)> done, bool barrier) {
  store_.Ship(
      state_, durability, std::move(done),
      [weak = weak_from_this()](const Changes& changes) {
        // The timer thread ships them again on its next round.
        if (auto self = weak.lock()) {
          MutexLock lock(self->mu_);
          self->store_.Restore(self->state_, changes);
        }
      },
      barrier);
}

void Group::ShipIfFull() {
  if (state_.ChangeWeight() >= context_.ack_flush_batch) {
    Ship(Durability::kAsync, nullptr);
  } else if (state_.HasChanges() && context_.wake_timers) {
    context_.wake_timers();
  }
}

Status Group::ShipAndWait(bool barrier) {
  std::promise<Status> committed;
  auto future = committed.get_future();
  Ship(
      context_.durability, [&committed](const Status& s) { committed.set_value(s); }, barrier);
  // Released on the mutex itself (not on the caller's MutexLock, which the analysis cannot see
  // through a reference); held again before returning, as the caller's lock expects.
  mu_.Unlock();
  Status status = future.get();
  mu_.Lock();
  return status;
}

void Group::StartDeadLetterWrite(const DeadLetterJob& job) {
  storage::AppendRequest request =
      store_.DeadLetterRequest(state_, job, record_.topic, dlq_topic_, context_.durability);
  request.done = [weak = weak_from_this(), partition = job.partition, offset = job.offset,
                  dead = job.dead](Result<std::vector<PublishResult>> result) {
    if (auto self = weak.lock()) self->OnDeadLettered(partition, offset, dead, result);
  };
  // (Its `done` takes mu_, held here: it runs after this.)
  if (Status s = context_.writer->Append(std::move(request)); !s.ok()) {
    state_.RetryDeadLetterLater(job.partition, job.offset, Now());  // shutting down
    return;
  }
  state_.DeadLetterQueued(job.partition, job.offset);
}

void Group::OnDeadLettered(uint32_t partition, uint64_t offset, const DeadRecord& dead,
                           const Result<std::vector<PublishResult>>& result) {
  MutexLock lock(mu_);
  Effects effects;
  state_.FinishDeadLetter(partition, offset, dead,
                          result.ok() ? std::optional(result->at(0).offset.value()) : std::nullopt,
                          Now(), effects);
  Apply(effects);
}

bool Group::has_pending_changes() const {
  MutexLock lock(mu_);
  return state_.HasChanges();
}

std::optional<TimePoint> Group::RunTimers() {
  MutexLock lock(mu_);
  if (closed_) return std::nullopt;
  state_.DropExpired(log_);
  Effects effects;
  bool wake = state_.ProcessDue(Now(), log_, effects);
  if (leasing_refused_for_space_ && !context_.db->recovering_from_full_disk()) {
    leasing_refused_for_space_ = false;  // space is back: members waiting to lease try again
    wake = true;
  }
  if (wake) effects.WakeMembers();
  Apply(effects);
  if (state_.HasChanges()) Ship(Durability::kAsync, nullptr);
  return state_.NextDue();
}

Status Group::Flush() {
  MutexLock lock(mu_);
  return ShipAndWait(true);
}

void Group::Close() {
  MutexLock lock(mu_);
  CloseLocked();
}

Status Group::CloseIfNoMembers() {
  MutexLock lock(mu_);
  if (state_.member_count() > 0) {
    return Status::FailedPrecondition("group '" + name_ + "' on topic '" + record_.topic +
                                      "' has subscribed members; close them first");
  }
  CloseLocked();
  return Status::Ok();
}

void Group::CloseLocked() {
  closed_ = true;
  log_.DropReadAheads();
  cv_.notify_all();
}

Status Group::CheckOpen() const {
  if (closed_) {
    return Status::Unavailable(
        "group '" + name_ + "' on topic '" + record_.topic +
        "' is closed (the broker is shutting down or the group was deleted)");
  }
  return Status::Ok();
}

// ---- Members --------------------------------------------------------------------------------

Status Group::Join(const std::string& member, uint32_t max_in_flight) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  Effects effects;
  if (Status s = state_.Join(member, max_in_flight, effects); !s.ok()) return s;
  ready_[member] = nullptr;
  Apply(effects);
  return Status::Ok();
}

void Group::Leave(const std::string& member) {
  MutexLock lock(mu_);
  if (!state_.HasMember(member)) return;
  Effects effects;
  if (closed_) {
    state_.RemoveMember(member, effects);
  } else {
    state_.Leave(member, Now(), log_, effects);
    ShipIfFull();
  }
  ready_.erase(member);
  Apply(effects);
}

void Group::SetReadyCallback(const std::string& member, std::function<void()> ready) {
  MutexLock lock(mu_);
  auto it = ready_.find(member);
  if (it != ready_.end()) it->second = std::move(ready);
}

size_t Group::member_count() const {
  MutexLock lock(mu_);
  return state_.member_count();
}

// ---- Settling -------------------------------------------------------------------------------

Status Group::Ack(const std::string& member, PartitionId partition, Offset offset, uint32_t attempt,
                  std::function<void(const Status&)> persisted) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  Effects effects;
  if (Status s = state_.Ack(member, partition, offset, attempt, Now(), effects); !s.ok()) return s;
  if (persisted) {
    Ship(context_.durability, std::move(persisted));
  } else {
    ShipIfFull();
  }
  Apply(effects);
  return Status::Ok();
}

Status Group::AckPersisted(const std::string& member, PartitionId partition, Offset offset,
                           uint32_t attempt) {
  std::promise<Status> written;
  auto future = written.get_future();
  // The write carries every change pending in the group, this ack's among them; its `done` runs
  // exactly once, so the wait below ends.
  if (Status s = Ack(member, partition, offset, attempt,
                     [&written](const Status& outcome) { written.set_value(outcome); });
      !s.ok()) {
    return s;
  }
  if (Status s = future.get(); !s.ok()) {
    return Status(s.code(), "the ack of partition " + std::to_string(partition.value()) +
                                " offset " + std::to_string(offset.value()) +
                                " was taken but not persisted (" + s.message() +
                                "); it is written with the group's next write, and until then "
                                "a crash may redeliver the message");
  }
  return Status::Ok();
}

Status Group::Nack(const std::string& member, PartitionId partition, Offset offset,
                   uint32_t attempt, std::optional<std::chrono::milliseconds> delay,
                   const std::string& error) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  Effects effects;
  if (Status s =
          state_.Nack(member, partition, offset, attempt, delay, error, Now(), log_, effects);
      !s.ok()) {
    return s;
  }
  ShipIfFull();
  Apply(effects);
  return Status::Ok();
}

Result<TimePoint> Group::Extend(const std::string& member, PartitionId partition, Offset offset,
                                uint32_t attempt) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  auto expires = state_.Extend(member, partition, offset, attempt, Now());
  if (expires.ok()) ShipIfFull();
  return expires;
}

Status Group::Reject(const std::string& member, PartitionId partition, Offset offset,
                     uint32_t attempt, const std::string& reason) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  Effects effects;
  if (Status s = state_.Reject(member, partition, offset, attempt, reason, Now(), log_, effects);
      !s.ok()) {
    return s;
  }
  Apply(effects);
  return Status::Ok();
}

Status Group::Release(const std::string& member, PartitionId partition, Offset offset,
                      uint32_t attempt) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  Effects effects;
  if (Status s = state_.Release(member, partition, offset, attempt, Now(), effects); !s.ok()) {
    return s;
  }
  ShipIfFull();
  Apply(effects);
  return Status::Ok();
}

// ---- Views and administration ---------------------------------------------------------------

GroupInfo Group::Describe() {
  MutexLock lock(mu_);
  GroupInfo info = state_.Describe(Now(), log_);
  info.topic = record_.topic;
  info.group = name_;
  info.created_at = record_.created_at;
  info.dlq_topic = dlq_topic_;
  for (MemberInfo& member : info.members) {
    member.waiting = std::any_of(waiters_.begin(), waiters_.end(), [&member](const Waiter* w) {
      return w->parked && *w->member == member.name;
    });
  }
  return info;
}

MessageGroupState Group::StateOf(PartitionId partition, Offset offset) {
  MutexLock lock(mu_);
  return state_.StateOf(partition, offset, log_);
}

Result<std::vector<DeadLetter>> Group::ListDeadLetters(Offset from, size_t limit) {
  MutexLock lock(mu_);
  std::vector<DeadLetter> out;
  auto dlq = context_.registry->Find(dlq_topic_);
  if (!dlq) return out;
  // Letters whose record retention deleted are skipped: ask for more than `limit` at a time.
  uint64_t next = from.value();
  for (;;) {
    auto letters = state_.DeadLetters(next, limit == 0 ? 0 : limit - out.size());
    if (letters.empty()) return out;
    for (const auto& [dlq_offset, dead] : letters) {
      next = dlq_offset + 1;
      auto read = storage::ReadPartition(*context_.db, *dlq, PartitionId(0), Offset(dlq_offset),
                                         ReadLimits{.max_records = 1});
      if (!read.ok()) return read.status();
      if (read->records.empty() || read->records[0].offset.value() != dlq_offset) continue;
      out.push_back(DeadLetter{std::move(read->records[0]), dead.partition, dead.offset,
                               dead.reason, dead.last_error, dead.attempts, dead.dead_at});
    }
    if (limit == 0 || out.size() >= limit) return out;
  }
}

Result<RedriveResult> Group::Redrive(const RedriveOptions& options) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  Effects effects;
  auto result = state_.Redrive(options, Now(), log_, effects);
  if (!result.ok() || options.dry_run) return result;
  Status written = ShipAndWait(false);
  Apply(effects);
  if (!written.ok()) {
    return TakenNotPersisted(written,
                             "the redrive of " + std::to_string(result->redriven) + " letters");
  }
  return result;
}

Result<uint64_t> Group::Purge(const DeadLetterFilter& filter) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  const uint64_t purged = state_.Purge(filter, Now());
  if (Status s = ShipAndWait(false); !s.ok()) {
    return TakenNotPersisted(s, "the purge of " + std::to_string(purged) + " letters");
  }
  return purged;
}

Status Group::Reset(const std::vector<std::optional<uint64_t>>& positions) {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  if (Status s = state_.Reset(positions); !s.ok()) return s;
  if (Status s = ShipAndWait(true); !s.ok()) return TakenNotPersisted(s, "the reset");
  return Status::Ok();
}

Status Group::TakenNotPersisted(const Status& write, const std::string& what) const {
  // The state changed before the write (a failed write hands its changes to the next one), so
  // the caller must not take the error for "nothing happened" and retry: a retry would find
  // nothing left to do, or do it twice.
  return Status(write.code(), what + " of group '" + name_ +
                                  "' took effect but is not persisted yet (" + write.message() +
                                  "); it is written with the group's next write; do not retry it");
}

Result<std::optional<std::pair<storage::TopicId, uint64_t>>> Group::CommittedDeadLetterFloor() {
  MutexLock lock(mu_);
  using Floor = std::optional<std::pair<storage::TopicId, uint64_t>>;
  if (closed_) return Floor();
  auto dlq = context_.registry->Find(dlq_topic_);
  if (!dlq || dlq->partitions.empty()) return Floor();
  // Read under mu_ with no dead-letter write in progress, so every letter below `end` is named by
  // a dead-letter record of this group already; letters appended later are at or above it.
  const uint64_t first = dlq->partitions[0]->first_offset.load();
  const uint64_t end = dlq->partitions[0]->end_offset.load();
  const std::optional<uint64_t> floor = state_.DeadLetterFloor(end);
  if (!floor || *floor <= first) return Floor(std::pair(dlq->record.id, first));  // keep all
  const uint64_t failed_before = store_.failed_writes();
  // As in CommittedAckFloors: once the barrier is committed, the purges and redrives this floor
  // rests on are on disk.
  if (Status s = ShipAndWait(true); !s.ok()) return s;
  if (store_.failed_writes() != failed_before) {
    return Status::Unavailable("a state write of group '" + name_ + "' failed; retrying later");
  }
  return Floor(std::pair(dlq->record.id, *floor));
}

Result<std::vector<uint64_t>> Group::CommittedAckFloors() {
  MutexLock lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  std::vector<uint64_t> floors = state_.AckFloors();
  const uint64_t failed_before = store_.failed_writes();
  // The barrier commits after every write shipped before it, and this one carries whatever is
  // unshipped now: once it is committed, the state these floors rest on is on disk.
  if (Status s = ShipAndWait(true); !s.ok()) return s;
  if (store_.failed_writes() != failed_before) {
    return Status::Unavailable("a state write of group '" + name_ + "' failed; retrying later");
  }
  return floors;
}

}  // namespace broker::delivery
