// Group: lag, per-message state, and dead-letter administration (list, redrive, purge).
#include <algorithm>
#include <future>

#include <xxhash.h>

#include "delivery/dead_letters.h"
#include "delivery/group.h"
#include "storage/log_reader.h"
#include "storage/validation.h"

namespace broker::delivery {

uint64_t Group::AckFloorOf(const Cursor& c) {
  return c.unsettled.empty() ? c.next : std::min(c.unsettled.begin()->first, c.next);
}

Result<std::vector<uint64_t>> Group::CommittedAckFloors() {
  std::vector<uint64_t> floors;
  uint64_t failed_before = 0;
  std::promise<Status> committed;
  auto future = committed.get_future();
  {
    std::lock_guard lock(mu_);
    if (Status s = CheckOpen(); !s.ok()) return s;
    for (const Cursor& c : cursors_) floors.push_back(AckFloorOf(c));
    failed_before = failed_ships_;
    // The barrier commits after every write shipped before it, and this one carries whatever is
    // unshipped now: once it is committed, the state these floors rest on is on disk.
    Ship(context_.durability, [&committed](const Status& s) { committed.set_value(s); }, true);
  }
  if (Status s = future.get(); !s.ok()) return s;
  std::lock_guard lock(mu_);
  if (failed_ships_ != failed_before) {
    return Status::Unavailable("a state write of group '" + name_ + "' failed; retrying later");
  }
  return floors;
}

PartitionLag Group::LagOf(uint32_t partition, TimePoint now) {
  Cursor& c = cursors_[partition];
  PartitionLag lag;
  lag.partition = PartitionId(partition);
  const uint64_t end = topic_->partitions[partition]->end_offset.load();
  lag.end_offset = Offset(end);
  const uint64_t floor = AckFloorOf(c);
  lag.ack_floor = Offset(floor);
  lag.backlog = (end > c.next ? end - c.next : 0) + c.fresh;
  lag.in_flight = c.leased + c.dead_pending;
  lag.delayed = c.delayed + c.redeliverable;
  lag.unsettled = lag.backlog + lag.in_flight + lag.delayed;
  lag.expired = c.expired;
  if (lag.unsettled > 0) {
    // The oldest unsettled message is the first at or after the floor that is not settled.
    const uint64_t oldest = c.unsettled.empty() ? c.next : c.unsettled.begin()->first;
    // Unknown if the record cannot be read (retention deleted it, or a read error): left zero.
    if (auto record = ReadOne(partition, oldest); record.ok() && *record) {
      lag.oldest_unsettled_age =
          std::max(std::chrono::microseconds(0), now - (*record)->timestamp);
    }
  }
  return lag;
}

GroupInfo Group::Describe() {
  std::lock_guard lock(mu_);
  const TimePoint now = context_.clock->Now();
  for (uint32_t p = 0; p < cursors_.size(); ++p) DropExpired(p);
  GroupInfo info;
  info.topic = record_.topic;
  info.group = name_;
  info.config = record_.config;
  info.created_at = record_.created_at;
  info.dlq_topic = dlq_topic_;
  for (const std::string& name : join_order_) {
    const Member& m = members_.at(name);
    MemberInfo mi{name, m.max_in_flight, m.leased, {}};
    mi.waiting = std::any_of(waiters_.begin(), waiters_.end(), [&name](const Waiter* w) {
      return w->parked && *w->member == name;
    });
    if (record_.config.ordering == Ordering::kPerPartition) {
      for (uint32_t p = 0; p < owners_.size(); ++p) {
        if (owners_[p] == name) mi.owned_partitions.push_back(PartitionId(p));
      }
    }
    info.members.push_back(std::move(mi));
  }
  for (uint32_t p = 0; p < cursors_.size(); ++p) {
    PartitionLag lag = LagOf(p, now);
    info.total.end_offset = Offset(info.total.end_offset.value() + lag.end_offset.value());
    info.total.ack_floor = Offset(info.total.ack_floor.value() + lag.ack_floor.value());
    info.total.backlog += lag.backlog;
    info.total.in_flight += lag.in_flight;
    info.total.delayed += lag.delayed;
    info.total.unsettled += lag.unsettled;
    info.total.expired += lag.expired;
    info.total.oldest_unsettled_age =
        std::max(info.total.oldest_unsettled_age, lag.oldest_unsettled_age);
    info.partitions.push_back(lag);
  }
  for (const auto& [offset, dead] : dead_) {
    if (dead.purged) continue;
    ++info.dlq_depth;
    info.dlq_oldest_age = std::max(info.dlq_oldest_age, now - dead.dead_at);
  }
  info.counters = counters_;
  return info;
}

MessageGroupState Group::StateOf(PartitionId partition, Offset offset) {
  std::lock_guard lock(mu_);
  MessageGroupState state;
  state.group = name_;
  if (partition.value() >= cursors_.size()) return state;
  const Cursor& c = cursors_[partition.value()];
  auto it = c.unsettled.find(offset.value());
  if (it != c.unsettled.end()) {
    const Entry& e = it->second;
    state.attempts = e.record.attempts;
    state.last_error = e.record.last_error;
    switch (e.state) {
      case State::kAvailable:
        state.status = MessageStatus::kAvailable;
        break;
      case State::kLeased:
        state.status = MessageStatus::kLeased;
        state.leased_by = e.record.member;
        state.lease_expires_at = e.record.lease_expires;
        break;
      case State::kDelayed:
        state.status = MessageStatus::kDelayed;
        state.delayed_until = e.record.due_at;
        break;
      case State::kDeadPending:
        state.status = MessageStatus::kDead;
        break;
    }
    return state;
  }
  if (offset.value() >= c.next) {
    state.status = MessageStatus::kPending;
    return state;
  }
  for (const auto& [dlq_offset, dead] : dead_) {
    if (dead.partition == partition && dead.offset == offset) {
      state.status = MessageStatus::kDead;
      state.attempts = dead.attempts;
      state.last_error = dead.last_error;
      if (dead.purged) state.last_error += " (dead letter purged)";
      return state;
    }
  }
  state.status = offset.value() < topic_->partitions[partition.value()]->first_offset.load()
                     ? MessageStatus::kExpired
                     : MessageStatus::kAcked;
  return state;
}

Result<std::vector<DeadLetter>> Group::ListDeadLetters(Offset from, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<DeadLetter> out;
  auto dlq = context_.registry->Find(dlq_topic_);
  if (!dlq) return out;
  for (auto it = dead_.lower_bound(from.value()); it != dead_.end(); ++it) {
    const auto& [dlq_offset, dead] = *it;
    if (dead.purged) continue;
    if (limit != 0 && out.size() >= limit) break;
    auto read = storage::ReadPartition(*context_.db, *dlq, PartitionId(0), Offset(dlq_offset),
                                       ReadLimits{.max_records = 1});
    if (!read.ok()) return read.status();
    if (read->records.empty() || read->records[0].offset.value() != dlq_offset) continue;
    out.push_back(DeadLetter{std::move(read->records[0]), dead.partition, dead.offset, dead.reason,
                             dead.last_error, dead.attempts, dead.dead_at});
  }
  return out;
}

Result<RedriveResult> Group::Redrive(const RedriveOptions& options) {
  RedriveResult result;
  std::promise<Status> committed;
  auto future = committed.get_future();
  {
    std::lock_guard lock(mu_);
    if (Status s = CheckOpen(); !s.ok()) return s;
    const TimePoint now = context_.clock->Now();
    std::vector<uint64_t> matched;
    for (const auto& [dlq_offset, dead] : dead_) {
      if (options.filter.limit != 0 && matched.size() >= options.filter.limit) break;
      if (!dead.purged && MatchesFilter(dead, options.filter, now)) matched.push_back(dlq_offset);
    }
    result.matched = matched.size();
    if (options.dry_run) return result;
    // Every original is read before anything changes: a read error fails the call, which then
    // changed nothing.
    std::vector<std::optional<Record>> originals;
    for (uint64_t dlq_offset : matched) {
      const DeadRecord& dead = dead_.at(dlq_offset);
      const uint32_t p = dead.partition.value();
      if (p >= cursors_.size() || cursors_[p].unsettled.contains(dead.offset.value())) {
        originals.emplace_back();
        continue;
      }
      auto original = ReadOne(p, dead.offset.value());
      if (!original.ok()) {
        return Status(original.status().code(),
                      "redrive changed nothing: " + original.status().message());
      }
      originals.push_back(std::move(*original));
    }
    for (size_t i = 0; i < matched.size(); ++i) {
      const uint64_t dlq_offset = matched[i];
      const DeadRecord dead = dead_.at(dlq_offset);
      const uint32_t p = dead.partition.value();
      const std::optional<Record>& original = originals[i];
      if (!original) {
        ++result.missing;  // deleted by retention: it stays in the DLQ, where its copy is
        continue;
      }
      Entry& e = AddEntry(p, dead.offset.value(), original->key);
      if (options.rate_per_second > 0) {
        // Clamped before the cast: a tiny rate would give a gap beyond int64 (undefined).
        const double gap_us = std::min(
            1e6 * static_cast<double>(result.redriven) / options.rate_per_second,
            static_cast<double>(std::chrono::microseconds(storage::kMaxDuration).count()));
        const auto gap = std::chrono::microseconds(static_cast<int64_t>(gap_us));
        if (gap.count() > 0) {
          e.record.due_at = now + gap;
          SetState(p, dead.offset.value(), e, State::kDelayed);
        }
      }
      QueuePut(p, dead.offset.value(), e);
      dead_.erase(dlq_offset);
      MarkDeadDirty(dlq_offset);
      ++result.redriven;
    }
    Ship(context_.durability, [&committed](const Status& s) { committed.set_value(s); });
    WakeMembers();
  }
  if (Status s = future.get(); !s.ok()) return s;
  return result;
}

Result<uint64_t> Group::Purge(const DeadLetterFilter& filter) {
  uint64_t purged = 0;
  std::promise<Status> committed;
  auto future = committed.get_future();
  {
    std::lock_guard lock(mu_);
    if (Status s = CheckOpen(); !s.ok()) return s;
    const TimePoint now = context_.clock->Now();
    for (auto& [dlq_offset, dead] : dead_) {
      if (dead.purged || (filter.limit != 0 && purged >= filter.limit) ||
          !MatchesFilter(dead, filter, now)) {
        continue;
      }
      dead.purged = true;  // a tombstone: see DeadRecord::purged
      MarkDeadDirty(dlq_offset);
      ++purged;
    }
    Ship(context_.durability, [&committed](const Status& s) { committed.set_value(s); });
  }
  if (Status s = future.get(); !s.ok()) return s;
  return purged;
}

Status Group::Reset(const std::vector<std::optional<uint64_t>>& positions) {
  std::promise<Status> committed;
  auto future = committed.get_future();
  {
    std::lock_guard lock(mu_);
    if (Status s = CheckOpen(); !s.ok()) return s;
    if (!members_.empty()) {
      return Status::FailedPrecondition("group '" + name_ + "' has " +
                                        std::to_string(members_.size()) +
                                        " subscribed members; stop them before resetting");
    }
    for (const Cursor& c : cursors_) {
      if (c.dead_pending > 0) {
        return Status::FailedPrecondition("a dead-letter write is in progress; try again");
      }
    }
    for (uint32_t p = 0; p < cursors_.size() && p < positions.size(); ++p) {
      if (!positions[p]) continue;
      Cursor& c = cursors_[p];
      std::vector<uint64_t> offsets;
      for (const auto& [offset, entry] : c.unsettled) offsets.push_back(offset);
      for (uint64_t offset : offsets) Settle(p, offset, true);
      c.next = *positions[p];
      MarkCursorDirty(p);
    }
    Ship(context_.durability, [&committed](const Status& s) { committed.set_value(s); }, true);
  }
  return future.get();
}

}  // namespace broker::delivery
