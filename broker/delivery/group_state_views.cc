// GroupState: lag, per-message state, and dead-letter administration (redrive, purge), reset.
#include <algorithm>

#include "delivery/dead_letters.h"
#include "delivery/group_state.h"
#include "storage/validation.h"

namespace broker::delivery {

uint64_t GroupState::AckFloorOf(const Cursor& c) {
  return c.unsettled.empty() ? c.next : std::min(c.unsettled.begin()->first, c.next);
}

std::vector<uint64_t> GroupState::AckFloors() const {
  std::vector<uint64_t> floors;
  for (const Cursor& c : cursors_) floors.push_back(AckFloorOf(c));
  return floors;
}

PartitionLag GroupState::LagOf(uint32_t partition, TimePoint now, LogSource& log) {
  Cursor& c = cursors_[partition];
  PartitionLag lag;
  lag.partition = PartitionId(partition);
  const uint64_t end = log.EndOffset(partition);
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
    if (auto record = log.ReadOne(partition, oldest); record.ok() && *record) {
      lag.oldest_unsettled_age = std::max(std::chrono::microseconds(0), now - (*record)->timestamp);
    }
  }
  return lag;
}

GroupInfo GroupState::Describe(TimePoint now, LogSource& log) {
  DropExpired(log);
  GroupInfo info;
  info.config = config_;
  for (const std::string& name : join_order_) {
    const Member& m = members_.at(name);
    MemberInfo mi{name, m.max_in_flight, m.leased, {}};
    if (config_.ordering == Ordering::kPerPartition) {
      for (uint32_t p = 0; p < owners_.size(); ++p) {
        if (owners_[p] == name) mi.owned_partitions.push_back(PartitionId(p));
      }
    }
    info.members.push_back(std::move(mi));
  }
  for (uint32_t p = 0; p < cursors_.size(); ++p) {
    PartitionLag lag = LagOf(p, now, log);
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

MessageGroupState GroupState::StateOf(PartitionId partition, Offset offset, LogSource& log) const {
  MessageGroupState state;
  state.group = group_;
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
  state.status = offset.value() < log.FirstOffset(partition.value()) ? MessageStatus::kExpired
                                                                     : MessageStatus::kAcked;
  return state;
}

std::vector<std::pair<uint64_t, DeadRecord>> GroupState::DeadLetters(uint64_t from,
                                                                     size_t limit) const {
  std::vector<std::pair<uint64_t, DeadRecord>> out;
  for (auto it = dead_.lower_bound(from); it != dead_.end(); ++it) {
    if (it->second.purged) continue;
    if (limit != 0 && out.size() >= limit) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

Result<RedriveResult> GroupState::Redrive(const RedriveOptions& options, TimePoint now,
                                          LogSource& log, Effects& effects) {
  RedriveResult result;
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
  // A letter whose original is delivered again anyway (the group was reset to an earlier
  // position after it was dead-lettered: the original is at or past the cursor, or already read
  // again and unsettled) only lets the letter go. An entry of its own would have the original
  // read a second time at the cursor, and after a restart an entry ahead of the cursor would move
  // the cursor past everything before it.
  std::vector<bool> coming_again(matched.size(), false);
  for (size_t i = 0; i < matched.size(); ++i) {
    const DeadRecord& dead = dead_.at(matched[i]);
    const uint32_t p = dead.partition.value();
    if (p < cursors_.size() && (dead.offset.value() >= cursors_[p].next ||
                                cursors_[p].unsettled.contains(dead.offset.value()))) {
      coming_again[i] = true;
      originals.emplace_back();
      continue;
    }
    if (p >= cursors_.size()) {
      originals.emplace_back();
      continue;
    }
    auto original = log.ReadOne(p, dead.offset.value());
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
    if (coming_again[i]) {
      dead_.erase(dlq_offset);
      dead_changed_.push_back(dlq_offset);
      ++result.redriven;
      continue;
    }
    if (!original) {
      ++result.missing;  // deleted by retention: it stays in the DLQ, where its copy is
      continue;
    }
    Entry& e = AddEntry(p, dead.offset.value(), original->key);
    // Delivered before: it keeps its first delivery time, so lag counts it as waiting for
    // redelivery, not as never delivered (attempts start again from 0).
    Detach(cursors_[p], e);
    e.record.first_delivery = dead.first_delivery;
    Attach(p, dead.offset.value(), cursors_[p], e);
    if (options.rate_per_second > 0) {
      // Clamped before the cast: a tiny rate would give a gap beyond int64 (undefined).
      const double gap_us =
          std::min(1e6 * static_cast<double>(result.redriven) / options.rate_per_second,
                   static_cast<double>(std::chrono::microseconds(storage::kMaxDuration).count()));
      const auto gap = std::chrono::microseconds(static_cast<int64_t>(gap_us));
      if (gap.count() > 0) {
        e.record.due_at = now + gap;
        SetState(p, dead.offset.value(), e, State::kDelayed);
      }
    }
    NotePut(p, dead.offset.value(), e);
    dead_.erase(dlq_offset);
    dead_changed_.push_back(dlq_offset);
    ++result.redriven;
  }
  effects.WakeMembers();
  return result;
}

uint64_t GroupState::Purge(const DeadLetterFilter& filter, TimePoint now) {
  uint64_t purged = 0;
  for (auto& [dlq_offset, dead] : dead_) {
    if (dead.purged || (filter.limit != 0 && purged >= filter.limit) ||
        !MatchesFilter(dead, filter, now)) {
      continue;
    }
    dead.purged = true;  // a tombstone: see DeadRecord::purged
    // Its original may be gone already: the next DropExpired looks at this partition again.
    if (dead.partition.value() < cursors_.size()) {
      cursors_[dead.partition.value()].tombstones_swept_to = 0;
    }
    dead_changed_.push_back(dlq_offset);
    ++purged;
  }
  return purged;
}

std::optional<uint64_t> GroupState::DeadLetterFloor(uint64_t dlq_end) const {
  if (DeadLettering()) return std::nullopt;
  for (const auto& [dlq_offset, dead] : dead_) {  // in offset order
    if (!dead.purged) return std::min(dlq_offset, dlq_end);
  }
  return dlq_end;
}

Status GroupState::Reset(const std::vector<std::optional<uint64_t>>& positions) {
  if (!members_.empty()) {
    return Status::FailedPrecondition("group '" + group_ + "' has " +
                                      std::to_string(members_.size()) +
                                      " subscribed members; stop them before resetting");
  }
  if (DeadLettering()) {
    return Status::FailedPrecondition("a dead-letter write is in progress; try again");
  }
  for (uint32_t p = 0; p < cursors_.size() && p < positions.size(); ++p) {
    if (!positions[p]) continue;
    Cursor& c = cursors_[p];
    std::vector<uint64_t> offsets;
    for (const auto& [offset, entry] : c.unsettled) offsets.push_back(offset);
    for (uint64_t offset : offsets) Settle(p, offset, true);
    c.next = *positions[p];
    NoteCursor(p);
  }
  return Status::Ok();
}

}  // namespace broker::delivery
