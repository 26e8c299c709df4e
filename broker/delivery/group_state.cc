// GroupState: loading, bookkeeping of entries, timers and lease runs, members, and the changes
// GroupStore persists. Selection and settling are in group_state_dispatch.cc; views and dead-letter
// administration in group_state_views.cc.
#include "delivery/group_state.h"

#include <xxhash.h>

#include <algorithm>

#include "delivery/backoff.h"

namespace broker::delivery {

GroupState::GroupState(std::string topic, std::string group, GroupConfig config,
                       uint32_t partitions)
    : topic_(std::move(topic)),
      group_(std::move(group)),
      config_(std::move(config)),
      cursors_(partitions),
      owners_(partitions) {}

// ---- Loading ------------------------------------------------------------------------------

void GroupState::LoadCursor(uint32_t partition, const CursorRecord& cursor) {
  if (partition >= cursors_.size()) return;
  Cursor& c = cursors_[partition];
  c.next = std::max(c.next, cursor.next_offset.value());
  c.expired = cursor.expired;
}

void GroupState::LoadMessage(uint32_t partition, uint64_t offset, const MessageRecord& message) {
  if (partition >= cursors_.size()) return;
  Cursor& c = cursors_[partition];
  Entry& e = c.unsettled[offset];
  e.record = message;
  e.has_message_record = true;
  e.state = static_cast<State>(message.state);
  if (config_.ordering == Ordering::kPerKey && message.has_key) {
    c.by_key[message.key_hash].insert(offset);
  }
  // A record past the stored cursor can only come from a write that also moved the cursor; keep
  // the cursor beyond it so that offset is never mistaken for settled.
  c.next = std::max(c.next, offset + 1);
  Attach(partition, offset, c, e);
}

void GroupState::LoadDead(uint64_t dlq_offset, const DeadRecord& dead) { dead_[dlq_offset] = dead; }

void GroupState::LoadLeaseRun(uint32_t p, uint64_t first, const LeaseRunRecord& record) {
  if (p >= cursors_.size()) return;
  Cursor& c = cursors_[p];
  auto [it, inserted] = c.runs.try_emplace(first);
  if (!inserted) return;  // keys are unique; nothing to merge
  LeaseRun& run = it->second;
  run.record = record;
  for (size_t i = 0; i < run.record.released.size(); ++i) {
    if (run.record.released[i]) continue;
    const uint64_t offset = first + i;
    if (c.unsettled.contains(offset)) {  // a message record wins (not written so, but be safe)
      run.record.released[i] = true;
      MarkRunDirty(p, first, run);
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
    e.run = first;
    ++run.live;
    c.next = std::max(c.next, offset + 1);  // as in LoadMessage
    Attach(p, offset, c, e);
  }
  if (run.live == 0) {  // nothing left for it to say: delete it with the next write
    c.runs.erase(it);
    runs_.emplace_back(p, first);
  }
}

void GroupState::FinishLoad(TimePoint now) {
  // Re-time every lease of the previous process to expire now; ProcessDue then treats them as
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

void GroupState::InitCursors(const std::vector<uint64_t>& starts) {
  for (uint32_t p = 0; p < cursors_.size() && p < starts.size(); ++p) cursors_[p].next = starts[p];
}

// ---- Bookkeeping --------------------------------------------------------------------------

bool GroupState::NeverDelivered(const MessageRecord& record) {
  // A redriven message has its attempts reset but keeps its first delivery time: it was
  // delivered before, so it counts as waiting for redelivery, not as backlog.
  return record.attempts == 0 && record.first_delivery == TimePoint{};
}

void GroupState::Detach(Cursor& c, const Entry& e) {
  switch (e.state) {
    case State::kAvailable:
      (NeverDelivered(e.record) ? c.fresh : c.redeliverable) -= 1;
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

void GroupState::Attach(uint32_t partition, uint64_t offset, Cursor& c, Entry& e) {
  e.has_timer = false;
  switch (e.state) {
    case State::kAvailable:
      (NeverDelivered(e.record) ? c.fresh : c.redeliverable) += 1;
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

void GroupState::SetState(uint32_t partition, uint64_t offset, Entry& e, State state) {
  // A message being dead-lettered keeps its (leased) record until the dead-letter write deletes
  // it; one persisted by a lease run gets that record now, so the run no longer speaks for it.
  if (state == State::kDeadPending && e.run != kNoRun) NotePut(partition, offset, e);
  Cursor& c = cursors_[partition];
  Detach(c, e);  // needs the lease holder, if any, to give its credit back
  if (state != State::kLeased) e.record.member.clear();
  if (state != State::kDeadPending) e.dead_letter_queued = false;
  e.state = state;
  if (state != State::kDeadPending) e.record.state = static_cast<EntryState>(state);
  Attach(partition, offset, c, e);
  if (state != State::kDeadPending) NotePut(partition, offset, e);
}

void GroupState::Settle(uint32_t partition, uint64_t offset, bool note_delete) {
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
  if (note_delete && !in_run) messages_.emplace_back(partition, offset);
}

void GroupState::SettleExpired(uint32_t partition, uint64_t offset) {
  ++cursors_[partition].expired;
  NoteCursor(partition);
  Settle(partition, offset, true);
}

GroupState::Entry& GroupState::AddEntry(uint32_t partition, uint64_t offset,
                                        const std::optional<std::string>& key) {
  Cursor& c = cursors_[partition];
  Entry& e = c.unsettled[offset];
  e.state = State::kAvailable;
  e.record = MessageRecord{};
  if (key) {
    e.record.has_key = true;
    e.record.key_hash = XXH64(key->data(), key->size(), 0);
    if (config_.ordering == Ordering::kPerKey) c.by_key[e.record.key_hash].insert(offset);
  }
  Attach(partition, offset, c, e);
  return e;
}

void GroupState::NotePut(uint32_t partition, uint64_t offset, Entry& e) {
  // Same write as the run's change: the record and the run never both speak for it.
  ReleaseFromRun(partition, offset, e);
  e.has_message_record = true;
  messages_.emplace_back(partition, offset);
}

void GroupState::PersistGrant(uint32_t partition, uint64_t offset, Entry& e) {
  Cursor& c = cursors_[partition];
  // A run stands for attempt 1 with no error and (ordering per_key aside) no key hash; an entry
  // that already has a message record (it waited for its key, or was redriven) keeps using it.
  const bool fits_run = e.record.attempts == 1 && e.record.last_error.empty() &&
                        !(e.record.has_key && config_.ordering == Ordering::kPerKey) &&
                        e.run == kNoRun && !e.has_message_record;
  if (!fits_run) {
    NotePut(partition, offset, e);
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
      NotePut(partition, offset, e);
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

void GroupState::ReleaseFromRun(uint32_t partition, uint64_t offset, Entry& e) {
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
  ++releases_;
  if (--run.live == 0) {
    c.runs.erase(it);
    runs_.emplace_back(partition, first);  // written as a delete
  } else {
    MarkRunDirty(partition, first, run);
  }
}

void GroupState::MarkRunDirty(uint32_t partition, uint64_t first, LeaseRun& run) {
  if (run.dirty) return;
  run.dirty = true;
  runs_.emplace_back(partition, first);
}

void GroupState::DropExpired(LogSource& log) {
  for (uint32_t p = 0; p < cursors_.size(); ++p) DropExpired(p, log);
}

void GroupState::DropExpired(uint32_t partition, LogSource& log) {
  Cursor& c = cursors_[partition];
  const uint64_t first = log.FirstOffset(partition);
  if (c.next < first) {
    c.expired += first - c.next;
    c.next = first;
    NoteCursor(partition);
  }
  while (!c.unsettled.empty() && c.unsettled.begin()->first < first) {
    const uint64_t offset = c.unsettled.begin()->first;
    if (c.unsettled.begin()->second.state == State::kDeadPending) break;  // its write decides
    SettleExpired(partition, offset);
  }
  // A purged letter's tombstone answers StateOf for its original; once retention deleted the
  // original there is no message left to ask about, so the tombstone goes too (record deleted).
  // Looked at only when the first offset moved (this runs on every poll).
  if (first <= c.tombstones_swept_to) return;
  c.tombstones_swept_to = first;
  for (auto it = dead_.begin(); it != dead_.end();) {
    if (it->second.purged && it->second.partition.value() == partition &&
        it->second.offset.value() < first) {
      dead_changed_.push_back(it->first);
      it = dead_.erase(it);
    } else {
      ++it;
    }
  }
}

std::chrono::microseconds GroupState::BackoffFor(uint32_t attempts) {
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  return BackoffDelay(config_.backoff, attempts, unit(jitter_rng_));
}

// ---- Members ------------------------------------------------------------------------------

Status GroupState::Join(const std::string& member, uint32_t max_in_flight, Effects& effects) {
  if (members_.contains(member)) {
    return Status::AlreadyExists("member '" + member + "' is already subscribed to group '" +
                                 group_ + "'; use a different member name");
  }
  members_[member] = Member{max_in_flight == 0 ? 1 : max_in_flight, 0};
  join_order_.push_back(member);
  AssignPartitions();
  effects.WakeMembers();
  return Status::Ok();
}

void GroupState::Leave(const std::string& member, TimePoint now, LogSource& log, Effects& effects) {
  if (!members_.contains(member)) return;
  // Its leases go back to the group at once; one that used its last attempt is dead-lettered.
  // A lease that already ran out is an expiry (a failed attempt with its backoff, as its holder's
  // settle was refused), whether or not the timers have seen it yet.
  ProcessDue(now, log, effects);
  for (uint32_t p = 0; p < cursors_.size(); ++p) {
    std::vector<uint64_t> offsets;
    for (auto& [offset, e] : cursors_[p].unsettled) {
      if (e.state == State::kLeased && e.record.member == member) offsets.push_back(offset);
    }
    for (uint64_t offset : offsets) {
      Entry& e = cursors_[p].unsettled.at(offset);
      if (e.record.last_error.empty()) e.record.last_error = "member left before settling";
      Fail(p, offset, e, std::chrono::microseconds(0), now, log, effects);
    }
  }
  RemoveMember(member, effects);
}

void GroupState::RemoveMember(const std::string& member, Effects& effects) {
  if (!members_.contains(member)) return;
  members_.erase(member);
  std::erase(join_order_, member);
  AssignPartitions();
  effects.WakeMembers();
}

bool GroupState::HasCredit(const std::string& member) const {
  auto m = members_.find(member);
  return m != members_.end() && m->second.leased < m->second.max_in_flight;
}

void GroupState::AssignPartitions() {
  for (uint32_t p = 0; p < owners_.size(); ++p) {
    owners_[p] = join_order_.empty() ? std::string() : join_order_[p % join_order_.size()];
  }
}

// ---- Persistence --------------------------------------------------------------------------

bool GroupState::HasChanges() const {
  return !messages_.empty() || !dead_changed_.empty() || !cursors_changed_.empty() ||
         !runs_.empty();
}

Changes GroupState::TakeChanges() {
  Changes changes;
  for (const auto& [p, first] : runs_) {
    auto it = cursors_[p].runs.find(first);
    if (it == cursors_[p].runs.end()) {
      changes.runs.emplace_back(p, first);  // every offset released: a delete
    } else if (it->second.dirty) {          // (listed once more after it was taken: already in)
      it->second.dirty = false;
      changes.runs.emplace_back(p, first);
    }
  }
  runs_.clear();
  releases_ = 0;
  // A run emptied after it was listed is listed twice: one delete is enough.
  std::sort(changes.runs.begin(), changes.runs.end());
  changes.runs.erase(std::unique(changes.runs.begin(), changes.runs.end()), changes.runs.end());
  std::sort(messages_.begin(), messages_.end());
  messages_.erase(std::unique(messages_.begin(), messages_.end()), messages_.end());
  // A message whose dead-letter write is queued is that write's to settle (DeadLetterQueued):
  // whatever was noted for it (a failed write's changes given back, say) is dropped, as
  // FinishDeadLetter notes it again if that write fails.
  std::erase_if(messages_, [this](const std::pair<uint32_t, uint64_t>& ref) {
    const auto& unsettled = cursors_[ref.first].unsettled;
    const auto it = unsettled.find(ref.second);
    return it != unsettled.end() && it->second.dead_letter_queued;
  });
  changes.messages = std::move(messages_);
  messages_.clear();
  changes.dead = std::move(dead_changed_);
  dead_changed_.clear();
  changes.cursors.assign(cursors_changed_.begin(), cursors_changed_.end());
  cursors_changed_.clear();
  return changes;
}

void GroupState::Restore(const Changes& changes) {
  cursors_changed_.insert(changes.cursors.begin(), changes.cursors.end());
  for (const auto& [p, first] : changes.runs) {
    auto it = cursors_[p].runs.find(first);
    if (it == cursors_[p].runs.end()) {
      runs_.emplace_back(p, first);
    } else {
      MarkRunDirty(p, first, it->second);
    }
  }
  messages_.insert(messages_.end(), changes.messages.begin(), changes.messages.end());
  dead_changed_.insert(dead_changed_.end(), changes.dead.begin(), changes.dead.end());
}

const MessageRecord* GroupState::MessageRecordOf(uint32_t partition, uint64_t offset) const {
  const auto it = cursors_[partition].unsettled.find(offset);
  if (it == cursors_[partition].unsettled.end() || !it->second.has_message_record) {
    return nullptr;  // settled, or its lease run speaks for it
  }
  return &it->second.record;
}

const LeaseRunRecord* GroupState::RunRecordOf(uint32_t partition, uint64_t first) const {
  const auto it = cursors_[partition].runs.find(first);
  return it == cursors_[partition].runs.end() ? nullptr : &it->second.record;
}

const DeadRecord* GroupState::DeadRecordOf(uint64_t dlq_offset) const {
  const auto it = dead_.find(dlq_offset);
  return it == dead_.end() ? nullptr : &it->second;
}

CursorRecord GroupState::CursorOf(uint32_t partition) const {
  return {Offset(cursors_[partition].next), cursors_[partition].expired};
}

bool GroupState::DeadLettering() const {
  return std::any_of(cursors_.begin(), cursors_.end(),
                     [](const Cursor& c) { return c.dead_pending > 0; });
}

}  // namespace broker::delivery
