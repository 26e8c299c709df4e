// GroupState: selection (credit-based leasing in the three ordering modes), timers, settling,
// dead-lettering and the direct hand-off's state changes.
#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <system_error>
#include <utility>

#include "delivery/dead_letters.h"
#include "delivery/group_state.h"
#include "storage/validation.h"

namespace broker::delivery {
namespace {

// Bounds the records a per_key group reads past blocked keys in one partition, so one hot key
// cannot make the group hold an unbounded number of waiting entries in memory. Other orderings
// lease every record they read, so they hold no waiting entries and are not bounded by it (their
// delayed messages must not stop new deliveries).
constexpr size_t kMaxUnsettledPerPartition = 100000;

std::string Where(PartitionId partition, Offset offset) {
  return "partition " + std::to_string(partition.value()) + " offset " +
         std::to_string(offset.value());
}

// Whether `record` is a request whose deadline (kRequestDeadlineHeader) has passed at `now`. A
// missing or unreadable deadline never expires: the responder decides about those.
bool RequestExpired(const Record& record, TimePoint now) {
  for (const auto& [name, value] : record.headers) {
    if (name != kRequestDeadlineHeader) continue;
    int64_t deadline_us = 0;
    const auto [end, error] =
        std::from_chars(value.data(), value.data() + value.size(), deadline_us);
    if (error != std::errc() || end != value.data() + value.size() || deadline_us <= 0) {
      return false;
    }
    return now.time_since_epoch().count() > deadline_us;
  }
  return false;
}

}  // namespace

void GroupState::Lease(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
                       TimePoint now) {
  Cursor& c = cursors_[partition];
  Detach(c, e);
  e.state = State::kLeased;
  e.record.state = EntryState::kLeased;
  e.record.attempts += 1;
  e.record.member = member;
  e.record.lease_expires = now + config_.ack_timeout;
  if (e.record.attempts == 1) e.record.first_delivery = now;
  e.record.last_delivery = now;
  Attach(partition, offset, c, e);
  ++counters_.delivered;
  if (e.record.attempts > 1) ++counters_.redelivered;
}

void GroupState::Grant(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
                       Record record, TimePoint now, std::vector<Delivery>& out) {
  Lease(member, partition, offset, e, now);
  PersistGrant(partition, offset, e);
  out.push_back(Delivery{std::move(record), e.record.attempts, e.record.lease_expires});
}

bool GroupState::KeyIsFree(const Cursor& c, uint64_t key_hash, uint64_t offset) const {
  const std::set<uint64_t>& offsets = c.by_key.at(key_hash);
  if (*offsets.begin() != offset) return false;
  // A redriven message can be older than one of its key already in flight: it waits for that one.
  for (uint64_t other : offsets) {
    if (c.unsettled.at(other).state != State::kAvailable) return false;
  }
  return true;
}

bool GroupState::MayLeaseFrom(const std::string& member, uint32_t partition) const {
  if (config_.ordering != Ordering::kPerPartition) return true;
  if (owners_[partition] != member) return false;
  // Ownership moved here: wait until the previous owner's leases are settled or expire.
  const Cursor& c = cursors_[partition];
  const auto mine = c.leased_by.find(member);
  return c.leased - (mine == c.leased_by.end() ? 0 : mine->second) == 0;
}

Status GroupState::Select(const std::string& member, size_t max, TimePoint now, LogSource& log,
                          std::vector<Delivery>& out, Effects& effects) {
  Status read_error;
  const Member& m = members_.at(member);
  size_t credit =
      std::min<size_t>(max, m.max_in_flight > m.leased ? m.max_in_flight - m.leased : 0);
  const bool per_key = config_.ordering == Ordering::kPerKey;
  const uint32_t partitions = static_cast<uint32_t>(cursors_.size());
  const uint32_t start = next_partition_++ % partitions;

  for (uint32_t i = 0; i < partitions && credit > 0; ++i) {
    const uint32_t p = (start + i) % partitions;
    Cursor& c = cursors_[p];
    if (!MayLeaseFrom(member, p)) continue;
    DropExpired(p, log);

    // Redeliveries and messages that waited for their key, oldest first.
    std::vector<uint64_t> ready;
    for (uint64_t offset : c.available) {
      if (ready.size() >= credit) break;
      const Entry& e = c.unsettled.at(offset);
      if (per_key && e.record.has_key && !KeyIsFree(c, e.record.key_hash, offset)) {
        continue;  // an earlier message of this key is unsettled, or one is in flight
      }
      ready.push_back(offset);
    }
    for (uint64_t offset : ready) {
      auto record = log.ReadOne(p, offset);
      if (!record.ok()) {  // stays available: the next poll reads it again
        if (read_error.ok()) read_error = record.status();
        continue;
      }
      if (!*record) {  // deleted by retention meanwhile
        SettleExpired(p, offset);
        continue;
      }
      if (config_.serves_requests && RequestExpired(**record, now)) {
        ++counters_.expired_requests;
        Settle(p, offset, true);
        continue;
      }
      Grant(member, p, offset, c.unsettled.at(offset), std::move(**record), now, out);
      --credit;
    }

    // Records never read by the group.
    const uint64_t end = log.EndOffset(p);
    while (credit > 0 && c.next < end &&
           (!per_key || c.unsettled.size() < kMaxUnsettledPerPartition)) {
      auto read = log.ReadFrom(p, c.next, credit + (per_key ? 64 : 0));
      if (!read.ok() && read_error.ok()) read_error = read.status();
      if (!read.ok() || read->records.empty()) break;
      for (Record& record : read->records) {
        const uint64_t offset = record.offset.value();
        if (offset > c.next) c.expired += offset - c.next;  // deleted by retention unread
        c.next = offset + 1;
        NoteCursor(p);
        if (config_.serves_requests && RequestExpired(record, now)) {
          ++counters_.expired_requests;  // settled by moving past it: no entry, no write of its own
          continue;
        }
        const bool key_busy = per_key && record.key &&
                              c.by_key.contains(XXH64(record.key->data(), record.key->size(), 0));
        Entry& e = AddEntry(p, offset, record.key);
        if (key_busy || credit == 0) {
          NotePut(p, offset, e);  // waits as "available": must survive a restart
          continue;
        }
        Grant(member, p, offset, e, std::move(record), now, out);
        --credit;
      }
    }
  }
  (void)effects;  // selection wakes no one: the caller is the one who polls
  return read_error;
}

bool GroupState::AnythingToLease(LogSource& log) const {
  for (uint32_t p = 0; p < cursors_.size(); ++p) {
    const Cursor& c = cursors_[p];
    if (!c.available.empty() || c.next < log.EndOffset(p)) return true;
  }
  return false;
}

void GroupState::UndoGrants(const std::string& member, const std::vector<Delivery>& granted) {
  for (const Delivery& d : granted) {
    const uint32_t p = d.record.partition.value();
    Cursor& c = cursors_[p];
    auto it = c.unsettled.find(d.record.offset.value());
    if (it != c.unsettled.end() && it->second.state == State::kLeased &&
        it->second.record.member == member) {
      SetState(p, d.record.offset.value(), it->second, State::kAvailable);
    }
  }
}

bool GroupState::ProcessDue(TimePoint now, LogSource& log, Effects& effects) {
  bool changed = false;
  while (!lease_timers_.empty() && lease_timers_.begin()->first <= now) {
    auto [partition, offset] = lease_timers_.begin()->second;
    Entry& e = cursors_[partition].unsettled.at(offset);
    if (e.record.last_error.empty()) e.record.last_error = "lease expired (not acked in time)";
    Fail(partition, offset, e, BackoffFor(e.record.attempts), now, log, effects);
    ++counters_.lease_expired;
    changed = true;
  }
  while (!due_timers_.empty() && due_timers_.begin()->first <= now) {
    auto [partition, offset] = due_timers_.begin()->second;
    Entry& e = cursors_[partition].unsettled.at(offset);
    if (e.record.attempts >= config_.max_deliveries || !e.dead_letter_reason.empty()) {
      // Only a dead-lettering that failed leaves such a message delayed (or a reject's, whatever
      // attempts are left): dead-letter it now rather than deliver it once more.
      DeadLetterOrRetry(partition, offset, e, now, log, effects);
    } else {
      SetState(partition, offset, e, State::kAvailable);
    }
    changed = true;
  }
  return changed;
}

std::optional<TimePoint> GroupState::NextDue() const {
  std::optional<TimePoint> next;
  if (!lease_timers_.empty()) next = lease_timers_.begin()->first;
  if (!due_timers_.empty() && (!next || due_timers_.begin()->first < *next)) {
    next = due_timers_.begin()->first;
  }
  return next;
}

void GroupState::Fail(uint32_t partition, uint64_t offset, Entry& e,
                      std::chrono::microseconds delay, TimePoint now, LogSource& log,
                      Effects& effects) {
  if (e.record.attempts >= config_.max_deliveries) {
    DeadLetterOrRetry(partition, offset, e, now, log, effects);
    return;
  }
  if (delay.count() <= 0) {
    SetState(partition, offset, e, State::kAvailable);
  } else {
    e.record.due_at = now + delay;
    SetState(partition, offset, e, State::kDelayed);
  }
}

void GroupState::DeadLetterOrRetry(uint32_t partition, uint64_t offset, Entry& e, TimePoint now,
                                   LogSource& log, Effects& effects) {
  const std::string reason =
      e.dead_letter_reason.empty() ? std::string("max_deliveries") : e.dead_letter_reason;
  if (!StartDeadLetter(partition, offset, e, reason, now, log, effects).ok()) {
    RetryLater(partition, offset, e, now);
  }
}

Status GroupState::StartDeadLetter(uint32_t partition, uint64_t offset, Entry& e,
                                   const std::string& reason, TimePoint now, LogSource& log,
                                   Effects& effects) {
  auto original = log.ReadOne(partition, offset);
  if (!original.ok()) return original.status();
  if (!*original) {  // deleted by retention: nothing left to dead-letter
    SettleExpired(partition, offset);
    return Status::Ok();
  }
  const std::optional<uint64_t> run =
      e.run == kNoRun ? std::nullopt : std::optional<uint64_t>(e.run);
  SetState(partition, offset, e, State::kDeadPending);  // takes it out of its run
  e.dead_letter_reason = reason;
  effects.dead_letters.push_back(
      DeadLetterJob{partition, offset,
                    DeadRecord{PartitionId(partition), Offset(offset), reason, e.record.last_error,
                               e.record.attempts, e.record.first_delivery, now},
                    std::move(**original), run});
  return Status::Ok();
}

void GroupState::RetryLater(uint32_t partition, uint64_t offset, Entry& e, TimePoint now) {
  // Not sooner than 100 ms, so a fault that lasts cannot make the timers spin.
  e.record.due_at = now + std::max<std::chrono::microseconds>(config_.backoff.initial,
                                                              std::chrono::milliseconds(100));
  SetState(partition, offset, e, State::kDelayed);
}

void GroupState::DeadLetterQueued(uint32_t partition, uint64_t offset) {
  auto it = cursors_[partition].unsettled.find(offset);
  if (it != cursors_[partition].unsettled.end() && it->second.state == State::kDeadPending) {
    it->second.dead_letter_queued = true;
  }
}

void GroupState::RetryDeadLetterLater(uint32_t partition, uint64_t offset, TimePoint now) {
  auto it = cursors_[partition].unsettled.find(offset);
  if (it == cursors_[partition].unsettled.end() || it->second.state != State::kDeadPending) return;
  RetryLater(partition, offset, it->second, now);
}

void GroupState::FinishDeadLetter(uint32_t partition, uint64_t offset, const DeadRecord& dead,
                                  std::optional<uint64_t> dlq_offset, TimePoint now,
                                  Effects& effects) {
  Cursor& c = cursors_[partition];
  auto it = c.unsettled.find(offset);
  if (it == c.unsettled.end() || it->second.state != State::kDeadPending) return;
  if (dlq_offset) {
    dead_[*dlq_offset] = dead;
    // The dead-letter write deleted its record, and no group write queued after it carried the
    // record (TakeChanges left it to that write): nothing more to write for it.
    Settle(partition, offset, false);
    ++counters_.dead_lettered;
  } else {
    // Try again later (e.g. after the disk has room again); the attempt count stays.
    RetryLater(partition, offset, it->second, now);
  }
  effects.WakeMembers();
}

// ---- Settling -----------------------------------------------------------------------------

Result<GroupState::Entry*> GroupState::FindLeased(const std::string& member, PartitionId partition,
                                                  Offset offset, uint32_t attempt, TimePoint now) {
  if (partition.value() >= cursors_.size()) {
    return Status::InvalidArgument("topic '" + topic_ + "' has no partition " +
                                   std::to_string(partition.value()));
  }
  Cursor& c = cursors_[partition.value()];
  auto it = c.unsettled.find(offset.value());
  if (it == c.unsettled.end()) {
    if (offset.value() >= c.next) {
      return Status::FailedPrecondition(Where(partition, offset) +
                                        " was never delivered to group '" + group_ + "'");
    }
    return Status::FailedPrecondition(Where(partition, offset) + " is already settled in group '" +
                                      group_ + "' (acked, dead-lettered or expired)");
  }
  Entry& e = it->second;
  if (e.state != State::kLeased) {
    return Status::FailedPrecondition(Where(partition, offset) +
                                      " is not leased (its lease expired or it was " +
                                      "nacked); it will be redelivered");
  }
  if (e.record.member != member) {
    return Status::FailedPrecondition(Where(partition, offset) +
                                      " is leased to another member, not '" + member + "'");
  }
  if (attempt != 0 && e.record.attempts != attempt) {
    // The lease of that delivery ended and the message was delivered again, to this member too:
    // a late settle must not settle the redelivery.
    return Status::FailedPrecondition(Where(partition, offset) +
                                      ": the lease of delivery attempt " + std::to_string(attempt) +
                                      " has ended; the message was delivered again (attempt " +
                                      std::to_string(e.record.attempts) + ")");
  }
  if (now >= e.record.lease_expires) {
    return Status::FailedPrecondition(Where(partition, offset) + ": its lease expired at " +
                                      FormatTime(e.record.lease_expires) +
                                      "; it will be redelivered");
  }
  return &e;
}

Status GroupState::Ack(const std::string& member, PartitionId partition, Offset offset,
                       uint32_t attempt, TimePoint now, Effects& effects) {
  auto e = FindLeased(member, partition, offset, attempt, now);
  if (!e.ok()) return e.status();
  const bool had_key = (*e)->record.has_key;
  Settle(partition.value(), offset.value(), true);
  ++counters_.acked;
  // Freed credit, or unblocked the key's next message.
  if (had_key && config_.ordering == Ordering::kPerKey) {
    effects.WakeMembers();
  } else {
    effects.WakeWaiters();
  }
  return Status::Ok();
}

Status GroupState::Nack(const std::string& member, PartitionId partition, Offset offset,
                        uint32_t attempt, std::optional<std::chrono::milliseconds> delay,
                        const std::string& error, TimePoint now, LogSource& log, Effects& effects) {
  if (delay && *delay > storage::kMaxDuration) {
    return Status::InvalidArgument("nack delay must be at most 100 years");
  }
  auto e = FindLeased(member, partition, offset, attempt, now);
  if (!e.ok()) return e.status();
  Entry& entry = **e;
  entry.record.last_error = SettleText(error, "nacked");
  // A negative delay means "now", as zero does (clamped first: the cast could overflow).
  const auto wait = delay ? std::chrono::duration_cast<std::chrono::microseconds>(
                                std::max(*delay, std::chrono::milliseconds(0)))
                          : BackoffFor(entry.record.attempts);
  Fail(partition.value(), offset.value(), entry, wait, now, log, effects);
  ++counters_.nacked;
  effects.WakeWaiters();
  return Status::Ok();
}

Result<TimePoint> GroupState::Extend(const std::string& member, PartitionId partition,
                                     Offset offset, uint32_t attempt, TimePoint now) {
  auto e = FindLeased(member, partition, offset, attempt, now);
  if (!e.ok()) return e.status();
  Entry& entry = **e;
  Detach(cursors_[partition.value()], entry);
  entry.record.lease_expires = now + config_.ack_timeout;
  Attach(partition.value(), offset.value(), cursors_[partition.value()], entry);
  NotePut(partition.value(), offset.value(), entry);
  return entry.record.lease_expires;
}

Status GroupState::Reject(const std::string& member, PartitionId partition, Offset offset,
                          uint32_t attempt, const std::string& reason, TimePoint now,
                          LogSource& log, Effects& effects) {
  auto e = FindLeased(member, partition, offset, attempt, now);
  if (!e.ok()) return e.status();
  std::string last_error = std::exchange((*e)->record.last_error, SettleText(reason, "rejected"));
  if (Status s =
          StartDeadLetter(partition.value(), offset.value(), **e, "rejected", now, log, effects);
      !s.ok()) {
    (*e)->record.last_error = std::move(last_error);
    return Status(s.code(), "could not dead-letter " + Where(partition, offset) + ": " +
                                s.message() + "; it is still leased to member '" + member + "'");
  }
  ++counters_.rejected;
  effects.WakeWaiters();
  return Status::Ok();
}

Status GroupState::Release(const std::string& member, PartitionId partition, Offset offset,
                           uint32_t attempt, TimePoint now, Effects& effects) {
  auto e = FindLeased(member, partition, offset, attempt, now);
  if (!e.ok()) return e.status();
  Entry& entry = **e;
  // No handler saw this delivery: it did not happen. The record written for it replaces the one
  // the grant wrote (or takes the offset out of its lease run), so a restart sees the restored
  // count too.
  entry.record.attempts -= 1;  // a lease always counted one
  if (entry.record.attempts == 0) entry.record.first_delivery = entry.record.last_delivery = {};
  SetState(partition.value(), offset.value(), entry, State::kAvailable);
  effects.WakeMembers();  // another member (or this one's next poll) may take it now
  return Status::Ok();
}

// ---- Direct hand-off ----------------------------------------------------------------------

const MessageRecord& GroupState::HandOff(const std::string& member, uint32_t partition,
                                         uint64_t offset, const std::optional<std::string>& key,
                                         TimePoint now) {
  Entry& e = AddEntry(partition, offset, key);
  cursors_[partition].next = offset + 1;
  Lease(member, partition, offset, e, now);
  e.has_message_record = true;  // the append's commit writes it
  return e.record;
}

void GroupState::HandOffCommitted(uint32_t partition) {
  // The append's batch wrote the moved cursor, but a group write shipped before the hand-off (a
  // poll's lease queued behind the append, its values encoded when shipped) commits after it with
  // the older cursor. Once the handed-off offset is acked and its record deleted, nothing would
  // say it was read, and a restart would deliver it again. So the next group write, which
  // commits after that one, carries the cursor as it is then. Noted only now, after the append
  // committed: a write shipped earlier must not carry a cursor past a record that may not exist.
  NoteCursor(partition);
}

void GroupState::UndoHandOff(uint32_t partition, uint64_t offset) {
  Cursor& c = cursors_[partition];
  if (c.unsettled.contains(offset)) {
    Settle(partition, offset, false);
    --counters_.delivered;
  }
  c.next = std::min(c.next, offset);
  NoteCursor(partition);  // in case a write meanwhile carried the moved cursor
}

std::optional<LeaseGrant> GroupState::LeaseOf(const std::string& member, uint32_t partition,
                                              uint64_t offset) const {
  const Cursor& c = cursors_[partition];
  auto it = c.unsettled.find(offset);
  if (it == c.unsettled.end() || it->second.state != State::kLeased ||
      it->second.record.member != member) {
    return std::nullopt;
  }
  return LeaseGrant{it->second.record.attempts, it->second.record.lease_expires};
}

}  // namespace broker::delivery
