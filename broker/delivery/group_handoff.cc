// Group: direct hand-off of new records to members waiting in Poll, and append wake-ups.
//
// Without it a record reaches a waiting member in two commits and three thread switches: the
// writer commits the append and wakes the member; the member leases the record and waits for the
// writer to commit the lease; the writer wakes it again. With it the writer leases the record to
// a parked member inside the commit that appends it (StageHandOff adds the lease, attempt 1, to
// that commit's batch and keeps the record as it will read back), and after the commit
// (FinishHandOff) wakes the member once, which returns the record without reading the log. The
// lease is persisted before anyone sees the record, exactly as a lease Poll grants itself; a
// failed commit undoes it together with the append.
#include <algorithm>

#include "delivery/group.h"

namespace broker::delivery {

void Group::OnAppend(const std::vector<storage::AppendEvent>& events) {
  std::lock_guard lock(mu_);
  for (const storage::AppendEvent& event : events) {
    if (event.topic != topic_id() || event.partition.value() >= cursors_.size()) continue;
    // Records a hand-off leased in this commit are not new to anyone.
    if (cursors_[event.partition.value()].next < event.end_offset.value()) {
      WakeMembers();
      return;
    }
  }
}

Group::Waiter* Group::PickWaiter() {
  for (Waiter* waiter : waiters_) {
    if (!waiter->parked || waiter->committed || waiter->staged.size() >= waiter->max) continue;
    auto m = members_.find(*waiter->member);
    if (m != members_.end() && m->second.leased < m->second.max_in_flight) return waiter;
  }
  return nullptr;
}

bool Group::StageHandOff(rocksdb::WriteBatch& batch, const std::vector<Message>& messages,
                         const std::vector<PublishResult>& positions, TimePoint timestamp) {
  std::lock_guard lock(mu_);
  // per_key and per_partition decide per record whom it may go to; they take the usual path.
  if (closed_ || waiters_.empty() || record_.config.ordering != Ordering::kNone) return false;
  const TimePoint now = context_.clock->Now();
  std::vector<uint32_t> moved;  // partitions whose cursor moved
  for (size_t i = 0; i < positions.size() && i < messages.size(); ++i) {
    const PublishResult& position = positions[i];
    if (position.duplicate) continue;
    const uint32_t p = position.partition.value();
    const uint64_t offset = position.offset.value();
    // Only the record next in line: older unread records go first, through Poll.
    if (p >= cursors_.size() || cursors_[p].next != offset) continue;
    Waiter* waiter = PickWaiter();
    if (waiter == nullptr) break;
    const Message& message = messages[i];
    Entry& e = AddEntry(p, offset, message.key);
    cursors_[p].next = offset + 1;
    Lease(*waiter->member, p, offset, e, now);
    e.has_message_record = true;
    batch.Put(context_.db->groups(),
              MessageKey(topic_id(), name_, position.partition, position.offset),
              EncodeMessageRecord(e.record));
    waiter->staged.push_back(Record{position.partition, position.offset, timestamp, message.key,
                                    message.payload, message.headers});
    if (std::find(moved.begin(), moved.end(), p) == moved.end()) moved.push_back(p);
  }
  for (uint32_t p : moved) {
    batch.Put(context_.db->groups(), CursorKey(topic_id(), name_, PartitionId(p)),
              EncodeCursorRecord({Offset(cursors_[p].next), cursors_[p].expired}));
  }
  return !moved.empty();
}

void Group::FinishHandOff(bool committed) {
  Lock lock(mu_);
  bool decided = false;
  for (Waiter* waiter : waiters_) {
    if (waiter->staged.empty() || waiter->committed) continue;
    decided = true;
    if (committed) {
      waiter->committed = true;
      continue;
    }
    // The records were not written: forget their entries and read them again when they are.
    for (const Record& record : waiter->staged) {
      const uint32_t p = record.partition.value();
      const uint64_t offset = record.offset.value();
      Cursor& c = cursors_[p];
      if (c.unsettled.contains(offset)) {
        Settle(p, offset, false);
        --counters_.delivered;
      }
      c.next = std::min(c.next, offset);
      MarkCursorDirty(p);  // in case a Ship meanwhile carried the moved cursor
    }
    waiter->staged.clear();
  }
  lock.unlock();
  // After unlocking: a woken member does not block on mu_ at once (a second switch).
  if (decided) cv_.notify_all();
}

std::vector<Delivery> Group::TakeHandOff(Waiter& waiter) {
  std::vector<Delivery> out;
  out.reserve(waiter.staged.size());
  for (Record& record : waiter.staged) {
    Cursor& c = cursors_[record.partition.value()];
    auto it = c.unsettled.find(record.offset.value());
    // A lease that ended meanwhile (expired, the member left) is the group's again.
    if (it == c.unsettled.end() || it->second.state != State::kLeased ||
        it->second.record.member != *waiter.member) {
      continue;
    }
    const uint32_t attempt = it->second.record.attempts;
    const TimePoint expires = it->second.record.lease_expires;
    out.push_back(Delivery{std::move(record), attempt, expires});
  }
  return out;
}

}  // namespace broker::delivery
