// Group: state bookkeeping, members, persistence and timers. Dispatch (Poll, settling) is in
// group_dispatch.cc; views and dead-letter administration in group_views.cc.
#include "delivery/group.h"

#include <algorithm>
#include <future>

#include <xxhash.h>

#include "delivery/backoff.h"
#include "delivery/dead_letters.h"
#include "storage/log_reader.h"

namespace broker::delivery {
namespace {

// One put (or, without a value, delete) of the groups CF.
struct PendingOp {
  std::string key;
  std::optional<std::string> value;
};

}  // namespace

Group::Group(DeliveryContext context, std::shared_ptr<storage::TopicState> topic,
             std::string name, GroupRecord record)
    : context_(std::move(context)),
      topic_(std::move(topic)),
      name_(std::move(name)),
      record_(std::move(record)),
      dlq_topic_(DeadLetterTopic(record_.topic, name_)),
      cursors_(topic_->partitions.size()),
      owners_(topic_->partitions.size()) {}

Group::~Group() { DropReadAheads(); }

Result<ReadResult> Group::ReadUnread(uint32_t partition, uint64_t from, size_t max_records) {
  storage::PartitionReadAhead& ahead = cursors_[partition].read_ahead;
  std::atomic<size_t>& held = *context_.read_ahead_bytes;
  const size_t before = ahead.kept_bytes();
  auto result = ahead.Read(*context_.db, *topic_, PartitionId(partition), Offset(from),
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

void Group::DropReadAheads() {
  for (Cursor& c : cursors_) {
    context_.read_ahead_bytes->fetch_sub(c.read_ahead.kept_bytes(), std::memory_order_relaxed);
    c.read_ahead.Clear();
  }
}

// ---- Loading ------------------------------------------------------------------------------

void Group::LoadCursor(PartitionId partition, const CursorRecord& cursor) {
  if (partition.value() >= cursors_.size()) return;
  Cursor& c = cursors_[partition.value()];
  c.next = std::max(c.next, cursor.next_offset.value());
  c.expired = cursor.expired;
}

void Group::LoadMessage(PartitionId partition, Offset offset, const MessageRecord& message) {
  if (partition.value() >= cursors_.size()) return;
  Cursor& c = cursors_[partition.value()];
  Entry& e = c.unsettled[offset.value()];
  e.record = message;
  e.has_message_record = true;
  e.state = static_cast<State>(message.state);
  if (record_.config.ordering == Ordering::kPerKey && message.has_key) {
    c.by_key[message.key_hash].insert(offset.value());
  }
  // A record past the stored cursor can only come from a write that also moved the cursor; keep
  // the cursor beyond it so that offset is never mistaken for settled.
  c.next = std::max(c.next, offset.value() + 1);
  Attach(partition.value(), offset.value(), c, e);
}

void Group::LoadDead(Offset dlq_offset, const DeadRecord& dead) { dead_[dlq_offset.value()] = dead; }

void Group::LoadLeaseRun(PartitionId partition, Offset first, const LeaseRunRecord& record) {
  if (partition.value() >= cursors_.size()) return;
  const uint32_t p = partition.value();
  Cursor& c = cursors_[p];
  auto [it, inserted] = c.runs.try_emplace(first.value());
  if (!inserted) return;  // keys are unique; nothing to merge
  LeaseRun& run = it->second;
  run.record = record;
  for (size_t i = 0; i < run.record.released.size(); ++i) {
    if (run.record.released[i]) continue;
    const uint64_t offset = first.value() + i;
    if (c.unsettled.contains(offset)) {  // a message record wins (not written so, but be safe)
      run.record.released[i] = true;
      MarkRunDirty(p, first.value(), run);
      continue;
    }
    Entry& e = c.unsettled[offset];
    e.state = State::kLeased;
    e.record = MessageRecord{};
    e.record.state = EntryState::kLeased;
    e.record.attempts = 1;
    e.record.member = record.member;
    e.record.lease_expires = record.lease_expires;
    e.record.first_delivery = e.record.last_delivery = record.delivered_at;
    e.run = first.value();
    ++run.live;
    c.next = std::max(c.next, offset + 1);  // as in LoadMessage
    Attach(p, offset, c, e);
  }
  if (run.live == 0) {  // nothing left for it to say: delete it with the next write
    c.runs.erase(it);
    dirty_runs_.emplace_back(p, first.value());
  }
}

void Group::FinishLoad() {
  const TimePoint now = context_.clock->Now();
  // Re-time every lease of the previous process to expire now; RunTimers then treats them as
  // expired leases (redelivery with backoff, or dead letter after max_deliveries).
  std::vector<std::pair<uint32_t, uint64_t>> leased;
  for (const auto& [at, ref] : lease_timers_) leased.push_back(ref);
  for (const auto& [partition, offset] : leased) {
    Entry& e = cursors_[partition].unsettled[offset];
    Detach(cursors_[partition], e);
    e.record.member.clear();
    e.record.lease_expires = now;
    Attach(partition, offset, cursors_[partition], e);
  }
}

void Group::InitCursors(std::vector<std::pair<std::string, std::string>>& puts) {
  for (uint32_t p = 0; p < cursors_.size(); ++p) {
    const storage::PartitionState& state = *topic_->partitions[p];
    Cursor& c = cursors_[p];
    c.next = record_.config.start == StartPosition::kLatest ? state.end_offset.load()
                                                             : state.first_offset.load();
    puts.emplace_back(CursorKey(topic_id(), name_, PartitionId(p)),
                      EncodeCursorRecord({Offset(c.next), 0}));
  }
}

// ---- State bookkeeping (mu_ held) ----------------------------------------------------------

void Group::Detach(Cursor& c, const Entry& e) {
  switch (e.state) {
    case State::kAvailable:
      (e.record.attempts == 0 ? c.fresh : c.redeliverable) -= 1;
      break;
    case State::kLeased: {
      c.leased -= 1;
      auto it = c.leased_by.find(e.record.member);
      if (it != c.leased_by.end() && --it->second == 0) c.leased_by.erase(it);
      auto m = members_.find(e.record.member);
      if (m != members_.end()) m->second.leased -= 1;
      break;
    }
    case State::kDelayed:
      c.delayed -= 1;
      break;
    case State::kDeadPending:
      c.dead_pending -= 1;
      break;
  }
  if (e.has_timer) {
    (e.state == State::kLeased ? lease_timers_ : due_timers_).erase(e.timer);
  }
}

void Group::Attach(uint32_t partition, uint64_t offset, Cursor& c, Entry& e) {
  e.has_timer = false;
  switch (e.state) {
    case State::kAvailable:
      (e.record.attempts == 0 ? c.fresh : c.redeliverable) += 1;
      c.available.insert(offset);
      return;
    case State::kLeased:
      c.leased += 1;
      c.leased_by[e.record.member] += 1;
      if (auto m = members_.find(e.record.member); m != members_.end()) m->second.leased += 1;
      e.timer = lease_timers_.emplace(e.record.lease_expires, std::make_pair(partition, offset));
      e.has_timer = true;
      break;
    case State::kDelayed:
      c.delayed += 1;
      e.timer = due_timers_.emplace(e.record.due_at, std::make_pair(partition, offset));
      e.has_timer = true;
      break;
    case State::kDeadPending:
      c.dead_pending += 1;
      break;
  }
  c.available.erase(offset);
}

void Group::SetState(uint32_t partition, uint64_t offset, Entry& e, State state) {
  // A message being dead-lettered keeps its (leased) record until the dead-letter write deletes
  // it; one persisted by a lease run gets that record now, so the run no longer speaks for it.
  if (state == State::kDeadPending && e.run != kNoRun) QueuePut(partition, offset, e);
  Cursor& c = cursors_[partition];
  Detach(c, e);  // needs the lease holder, if any, to give its credit back
  if (state != State::kLeased) e.record.member.clear();
  e.state = state;
  if (state != State::kDeadPending) e.record.state = static_cast<EntryState>(state);
  Attach(partition, offset, c, e);
  if (state != State::kDeadPending) QueuePut(partition, offset, e);
}

void Group::Settle(uint32_t partition, uint64_t offset, bool queue_delete) {
  Cursor& c = cursors_[partition];
  auto it = c.unsettled.find(offset);
  if (it == c.unsettled.end()) return;
  Entry& e = it->second;
  const bool in_run = e.run != kNoRun;  // then it has no message record to delete
  ReleaseFromRun(partition, offset, e);
  Detach(c, e);
  c.available.erase(offset);
  if (e.record.has_key) {
    auto k = c.by_key.find(e.record.key_hash);
    if (k != c.by_key.end()) {
      k->second.erase(offset);
      if (k->second.empty()) c.by_key.erase(k);
    }
  }
  c.unsettled.erase(it);
  if (queue_delete && !in_run) MarkMessageDirty(partition, offset);
}

Group::Entry& Group::AddEntry(uint32_t partition, uint64_t offset,
                              const std::optional<std::string>& key) {
  Cursor& c = cursors_[partition];
  Entry& e = c.unsettled[offset];
  e.state = State::kAvailable;
  e.record = MessageRecord{};
  if (key) {
    e.record.has_key = true;
    e.record.key_hash = XXH64(key->data(), key->size(), 0);
    if (record_.config.ordering == Ordering::kPerKey) c.by_key[e.record.key_hash].insert(offset);
  }
  Attach(partition, offset, c, e);
  return e;
}

void Group::QueuePut(uint32_t partition, uint64_t offset, Entry& e) {
  // Same write (one Ship) as the run's change: the record and the run never both speak for it.
  ReleaseFromRun(partition, offset, e);
  e.has_message_record = true;
  MarkMessageDirty(partition, offset);
}

void Group::PersistGrant(uint32_t partition, uint64_t offset, Entry& e) {
  Cursor& c = cursors_[partition];
  // A run stands for attempt 1 with no error and (ordering per_key aside) no key hash; an entry
  // that already has a message record (it waited for its key, or was redriven) keeps using it.
  const bool fits_run = e.record.attempts == 1 && e.record.last_error.empty() &&
                        !(e.record.has_key && record_.config.ordering == Ordering::kPerKey) &&
                        e.run == kNoRun && !e.has_message_record;
  if (!fits_run) {
    QueuePut(partition, offset, e);
    return;
  }
  LeaseRun* run = nullptr;
  if (auto it = c.runs.find(c.open_run); it != c.runs.end()) {
    LeaseRunRecord& r = it->second.record;
    if (it->first + r.released.size() == offset && r.released.size() < kMaxLeaseRun &&
        r.member == e.record.member && r.lease_expires == e.record.lease_expires &&
        r.delivered_at == e.record.first_delivery) {
      run = &it->second;
    }
  }
  if (run == nullptr) {
    auto [it, inserted] = c.runs.try_emplace(offset);
    if (!inserted) {  // a run starting here still holds other offsets: use a message record
      QueuePut(partition, offset, e);
      return;
    }
    run = &it->second;
    run->record.member = e.record.member;
    run->record.lease_expires = e.record.lease_expires;
    run->record.delivered_at = e.record.first_delivery;
    c.open_run = offset;
  }
  run->record.released.push_back(false);
  ++run->live;
  e.run = c.open_run;
  MarkRunDirty(partition, c.open_run, *run);
}

void Group::ReleaseFromRun(uint32_t partition, uint64_t offset, Entry& e) {
  if (e.run == kNoRun) return;
  Cursor& c = cursors_[partition];
  const uint64_t first = e.run;
  e.run = kNoRun;
  auto it = c.runs.find(first);
  if (it == c.runs.end()) return;
  LeaseRun& run = it->second;
  const uint64_t i = offset - first;
  if (i >= run.record.released.size() || run.record.released[i]) return;
  run.record.released[i] = true;
  ++unshipped_releases_;
  if (--run.live == 0) {
    c.runs.erase(it);
    dirty_runs_.emplace_back(partition, first);  // Ship deletes it
  } else {
    MarkRunDirty(partition, first, run);
  }
}

void Group::MarkRunDirty(uint32_t partition, uint64_t first, LeaseRun& run) {
  if (run.dirty) return;
  run.dirty = true;
  dirty_runs_.emplace_back(partition, first);
}

bool Group::HasUnshipped() const {
  return !dirty_messages_.empty() || !dirty_dead_.empty() || !dirty_cursors_.empty() ||
         !dirty_runs_.empty();
}

void Group::MarkMessageDirty(uint32_t partition, uint64_t offset) {
  dirty_messages_.emplace_back(partition, offset);
}

void Group::MarkDeadDirty(uint64_t dlq_offset) { dirty_dead_.push_back(dlq_offset); }

void Group::MarkCursorDirty(uint32_t partition) { dirty_cursors_.insert(partition); }

void Group::Ship(Durability durability, std::function<void(const Status&)> done, bool barrier) {
  // Each dirty record is written as it is now; `shipped` remembers which, to mark them again if
  // the write fails.
  auto shipped = std::make_shared<Shipped>();
  std::vector<PendingOp> ops;
  for (const auto& [p, first] : dirty_runs_) {
    std::string key = LeaseRunKey(topic_id(), name_, PartitionId(p), Offset(first));
    auto it = cursors_[p].runs.find(first);
    if (it == cursors_[p].runs.end()) {
      ops.push_back({std::move(key), std::nullopt});  // every offset released
    } else if (it->second.dirty) {
      it->second.dirty = false;
      ops.push_back({std::move(key), EncodeLeaseRunRecord(it->second.record)});
    }
  }
  shipped->runs = std::move(dirty_runs_);
  dirty_runs_.clear();
  unshipped_releases_ = 0;
  std::sort(dirty_messages_.begin(), dirty_messages_.end());
  dirty_messages_.erase(std::unique(dirty_messages_.begin(), dirty_messages_.end()),
                        dirty_messages_.end());
  for (const auto& [p, offset] : dirty_messages_) {
    std::string key = MessageKey(topic_id(), name_, PartitionId(p), Offset(offset));
    const auto it = cursors_[p].unsettled.find(offset);
    if (it != cursors_[p].unsettled.end() && it->second.has_message_record) {
      ops.push_back({std::move(key), EncodeMessageRecord(it->second.record)});
    } else {
      ops.push_back({std::move(key), std::nullopt});  // settled, or its lease run speaks for it
    }
  }
  shipped->messages = std::move(dirty_messages_);
  dirty_messages_.clear();
  for (uint64_t dlq_offset : dirty_dead_) {
    std::string key = DeadKey(topic_id(), name_, Offset(dlq_offset));
    const auto it = dead_.find(dlq_offset);
    if (it != dead_.end()) {
      ops.push_back({std::move(key), EncodeDeadRecord(it->second)});
    } else {
      ops.push_back({std::move(key), std::nullopt});  // redriven
    }
  }
  shipped->dead = std::move(dirty_dead_);
  dirty_dead_.clear();
  for (uint32_t p : dirty_cursors_) {
    ops.push_back({CursorKey(topic_id(), name_, PartitionId(p)),
                   EncodeCursorRecord({Offset(cursors_[p].next), cursors_[p].expired})});
  }
  shipped->cursors.assign(dirty_cursors_.begin(), dirty_cursors_.end());
  dirty_cursors_.clear();
  if (ops.empty() && !barrier) {
    if (done) done(Status::Ok());
    return;
  }
  storage::AppendRequest request;
  request.durability = durability;
  request.extra = [ops = std::move(ops), cf = context_.db->groups()](
                      rocksdb::WriteBatch& batch, const std::vector<PublishResult>&) {
    for (const PendingOp& op : ops) {
      if (op.value) {
        batch.Put(cf, op.key, *op.value);
      } else {
        batch.Delete(cf, op.key);
      }
    }
  };
  request.done = [weak = weak_from_this(), shipped, done](Result<std::vector<PublishResult>> result) {
    if (!result.ok()) {
      // Nothing of it reached disk: the next Ship writes it all again, as it is by then. (The
      // timer thread ships unshipped changes on its next round.)
      if (auto self = weak.lock()) {
        std::lock_guard lock(self->mu_);
        self->Remark(*shipped);
      }
    }
    if (done) done(result.status());
  };
  if (Status s = context_.writer->Append(std::move(request)); !s.ok()) {
    // Shutting down: nothing more reaches disk. A restart redelivers what was not persisted.
    Remark(*shipped);
    if (done) done(s);
  }
}

void Group::Remark(const Shipped& shipped) {
  ++failed_ships_;
  dirty_cursors_.insert(shipped.cursors.begin(), shipped.cursors.end());
  for (const auto& [p, first] : shipped.runs) {
    auto it = cursors_[p].runs.find(first);
    if (it == cursors_[p].runs.end()) {
      dirty_runs_.emplace_back(p, first);
    } else {
      MarkRunDirty(p, first, it->second);
    }
  }
  dirty_messages_.insert(dirty_messages_.end(), shipped.messages.begin(), shipped.messages.end());
  dirty_dead_.insert(dirty_dead_.end(), shipped.dead.begin(), shipped.dead.end());
}

void Group::ShipIfFull() {
  if (dirty_messages_.size() + dirty_dead_.size() + unshipped_releases_ >=
      context_.ack_flush_batch) {
    Ship(Durability::kAsync, nullptr);
  } else if (HasUnshipped() && context_.wake_timers) {
    context_.wake_timers();
  }
}

bool Group::has_pending_changes() const {
  std::lock_guard lock(mu_);
  return HasUnshipped();
}

void Group::DropExpired(uint32_t partition) {
  Cursor& c = cursors_[partition];
  const uint64_t first = topic_->partitions[partition]->first_offset.load();
  if (c.next < first) {
    c.expired += first - c.next;
    c.next = first;
    MarkCursorDirty(partition);
  }
  while (!c.unsettled.empty() && c.unsettled.begin()->first < first) {
    const uint64_t offset = c.unsettled.begin()->first;
    if (c.unsettled.begin()->second.state == State::kDeadPending) break;  // its write decides
    ++c.expired;
    MarkCursorDirty(partition);
    Settle(partition, offset, true);
  }
}

std::chrono::microseconds Group::BackoffFor(uint32_t attempts) {
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  return BackoffDelay(record_.config.backoff, attempts, unit(jitter_rng_));
}

void Group::Fail(uint32_t partition, uint64_t offset, Entry& e, std::chrono::microseconds delay) {
  if (e.record.attempts >= record_.config.max_deliveries) {
    if (!StartDeadLetter(partition, offset, e, "max_deliveries").ok()) {
      RetryDeadLetterLater(partition, offset, e);
    }
    return;
  }
  const TimePoint now = context_.clock->Now();
  if (delay.count() <= 0) {
    SetState(partition, offset, e, State::kAvailable);
  } else {
    e.record.due_at = now + delay;
    SetState(partition, offset, e, State::kDelayed);
  }
}

bool Group::ProcessDue(TimePoint now) {
  bool changed = false;
  while (!lease_timers_.empty() && lease_timers_.begin()->first <= now) {
    auto [partition, offset] = lease_timers_.begin()->second;
    Entry& e = cursors_[partition].unsettled.at(offset);
    if (e.record.last_error.empty()) e.record.last_error = "lease expired (not acked in time)";
    Fail(partition, offset, e, BackoffFor(e.record.attempts));
    ++counters_.lease_expired;
    changed = true;
  }
  while (!due_timers_.empty() && due_timers_.begin()->first <= now) {
    auto [partition, offset] = due_timers_.begin()->second;
    Entry& e = cursors_[partition].unsettled.at(offset);
    if (e.record.attempts >= record_.config.max_deliveries) {
      // Only a dead-lettering that failed leaves such a message delayed: dead-letter it now
      // rather than deliver it once more.
      if (!StartDeadLetter(partition, offset, e, "max_deliveries").ok()) {
        RetryDeadLetterLater(partition, offset, e);
      }
    } else {
      SetState(partition, offset, e, State::kAvailable);
    }
    changed = true;
  }
  return changed;
}

std::optional<TimePoint> Group::RunTimers() {
  std::lock_guard lock(mu_);
  if (closed_) return std::nullopt;
  for (uint32_t p = 0; p < cursors_.size(); ++p) DropExpired(p);
  bool wake = ProcessDue(context_.clock->Now());
  if (leasing_refused_for_space_ && !context_.db->recovering_from_full_disk()) {
    leasing_refused_for_space_ = false;  // space is back: members waiting to lease try again
    wake = true;
  }
  if (wake) WakeMembers();
  if (HasUnshipped()) Ship(Durability::kAsync, nullptr);
  std::optional<TimePoint> next;
  if (!lease_timers_.empty()) next = lease_timers_.begin()->first;
  if (!due_timers_.empty() && (!next || due_timers_.begin()->first < *next)) {
    next = due_timers_.begin()->first;
  }
  return next;
}

void Group::WakeMembers() {
  cv_.notify_all();
  for (auto& [name, member] : members_) {
    if (member.ready) member.ready();
  }
}

Status Group::Flush() {
  std::promise<Status> committed;
  auto future = committed.get_future();
  {
    std::lock_guard lock(mu_);
    Ship(context_.durability, [&committed](const Status& s) { committed.set_value(s); }, true);
  }
  return future.get();
}

void Group::Close() {
  std::lock_guard lock(mu_);
  CloseLocked();
}

Status Group::CloseIfNoMembers() {
  std::lock_guard lock(mu_);
  if (!members_.empty()) {
    return Status::FailedPrecondition("group '" + name_ + "' on topic '" + record_.topic +
                                      "' has subscribed members; close them first");
  }
  CloseLocked();
  return Status::Ok();
}

void Group::CloseLocked() {
  closed_ = true;
  DropReadAheads();
  cv_.notify_all();
}

Status Group::CheckOpen() const {
  if (closed_) {
    return Status::Unavailable("group '" + name_ + "' on topic '" + record_.topic +
                               "' is closed (the broker is shutting down or the group was deleted)");
  }
  return Status::Ok();
}

// ---- Members ------------------------------------------------------------------------------

Status Group::Join(const std::string& member, uint32_t max_in_flight) {
  std::lock_guard lock(mu_);
  if (Status s = CheckOpen(); !s.ok()) return s;
  if (members_.contains(member)) {
    return Status::AlreadyExists("member '" + member + "' is already subscribed to group '" +
                                 name_ + "'; use a different member name");
  }
  members_[member] = Member{max_in_flight == 0 ? 1 : max_in_flight, 0, nullptr};
  join_order_.push_back(member);
  AssignPartitions();
  WakeMembers();
  return Status::Ok();
}

void Group::Leave(const std::string& member) {
  std::lock_guard lock(mu_);
  if (!members_.contains(member)) return;
  // Its leases go back to the group at once; one that used its last attempt is dead-lettered.
  // A lease that already ran out is an expiry (a failed attempt with its backoff, as its holder's
  // settle was refused), whether or not the timers have seen it yet.
  if (!closed_) {
    ProcessDue(context_.clock->Now());
    for (uint32_t p = 0; p < cursors_.size(); ++p) {
      std::vector<uint64_t> offsets;
      for (auto& [offset, e] : cursors_[p].unsettled) {
        if (e.state == State::kLeased && e.record.member == member) offsets.push_back(offset);
      }
      for (uint64_t offset : offsets) {
        Entry& e = cursors_[p].unsettled.at(offset);
        if (e.record.last_error.empty()) e.record.last_error = "member left before settling";
        Fail(p, offset, e, std::chrono::microseconds(0));
      }
    }
    ShipIfFull();
  }
  members_.erase(member);
  std::erase(join_order_, member);
  AssignPartitions();
  WakeMembers();
}

void Group::SetReadyCallback(const std::string& member, std::function<void()> ready) {
  std::lock_guard lock(mu_);
  auto it = members_.find(member);
  if (it != members_.end()) it->second.ready = std::move(ready);
}

size_t Group::member_count() const {
  std::lock_guard lock(mu_);
  return members_.size();
}

void Group::AssignPartitions() {
  for (uint32_t p = 0; p < owners_.size(); ++p) {
    owners_[p] = join_order_.empty() ? std::string() : join_order_[p % join_order_.size()];
  }
}

bool Group::Owns(const std::string& member, uint32_t partition) const {
  return owners_[partition] == member;
}

Result<std::optional<Record>> Group::ReadOne(uint32_t partition, uint64_t offset) {
  auto result = storage::ReadPartition(*context_.db, *topic_, PartitionId(partition),
                                       Offset(offset), ReadLimits{.max_records = 1});
  if (result.ok() && !result->records.empty() && result->records[0].offset.value() == offset) {
    return std::optional<Record>(std::move(result->records[0]));
  }
  // Retention deletes from the front and then moves the first offset (read after the record):
  // below it the record is gone for good. Anything else may be a passing fault.
  if (offset < topic_->partitions[partition]->first_offset.load()) return std::optional<Record>();
  const std::string where = "partition " + std::to_string(partition) + " offset " +
                            std::to_string(offset) + " of topic '" + record_.topic + "'";
  if (!result.ok()) {
    return Status(result.status().code(),
                  "reading " + where + " for group '" + name_ + "': " + result.status().message());
  }
  return Status::Unavailable(where + " is missing from the log although retention has not " +
                             "reached it; group '" + name_ + "' keeps it unsettled");
}

}  // namespace broker::delivery
