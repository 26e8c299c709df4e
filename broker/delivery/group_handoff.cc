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
  MutexLock lock(mu_);
  for (const storage::AppendEvent& event : events) {
    if (event.topic != topic_id() || event.partition.value() >= state_.partitions()) continue;
    // Records a hand-off leased in this commit are not new to anyone.
    if (state_.next(event.partition.value()) < event.end_offset.value()) {
      WakeMembers();
      return;
    }
  }
}

Group::Waiter* Group::PickWaiter() {
  for (Waiter* waiter : waiters_) {
    if (!waiter->parked || waiter->committed || waiter->staged.size() >= waiter->max) continue;
    if (state_.HasCredit(*waiter->member)) return waiter;
  }
  return nullptr;
}

bool Group::StageHandOff(rocksdb::WriteBatch& batch, const std::vector<Message>& messages,
                         const std::vector<PublishResult>& positions, TimePoint timestamp) {
  MutexLock lock(mu_);
  // per_key and per_partition decide per record whom it may go to; they take the usual path.
  if (closed_ || waiters_.empty() || !state_.AcceptsHandOff()) return false;
  const TimePoint now = Now();
  std::vector<uint32_t> moved;  // partitions whose cursor moved
  for (size_t i = 0; i < positions.size() && i < messages.size(); ++i) {
    const PublishResult& position = positions[i];
    if (position.duplicate) continue;
    const uint32_t p = position.partition.value();
    const uint64_t offset = position.offset.value();
    // Only the record next in line: older unread records go first, through Poll.
    if (!state_.IsNext(p, offset)) continue;
    Waiter* waiter = PickWaiter();
    if (waiter == nullptr) break;
    const Message& message = messages[i];
    store_.PutHandOff(batch, p, offset,
                      state_.HandOff(*waiter->member, p, offset, message.key, now));
    waiter->staged.push_back(Record{position.partition, position.offset, timestamp, message.key,
                                    message.payload, message.headers});
    if (std::find(moved.begin(), moved.end(), p) == moved.end()) moved.push_back(p);
  }
  for (uint32_t p : moved) store_.PutCursor(batch, p, state_.CursorOf(p));
  return !moved.empty();
}

void Group::FinishHandOff(bool committed) {
  MutexLock lock(mu_);
  bool decided = false;
  for (Waiter* waiter : waiters_) {
    if (waiter->staged.empty() || waiter->committed) continue;
    decided = true;
    if (committed) {
      waiter->committed = true;
      for (const Record& record : waiter->staged) {
        state_.HandOffCommitted(record.partition.value());
      }
      continue;
    }
    // The records were not written: forget their entries and read them again when they are.
    for (const Record& record : waiter->staged) {
      state_.UndoHandOff(record.partition.value(), record.offset.value());
    }
    waiter->staged.clear();
  }
  lock.Unlock();
  // After unlocking: a woken member does not block on mu_ at once (a second switch).
  if (decided) cv_.notify_all();
}

std::vector<Delivery> Group::TakeHandOff(Waiter& waiter) {
  std::vector<Delivery> out;
  out.reserve(waiter.staged.size());
  for (Record& record : waiter.staged) {
    // A lease that ended meanwhile (expired, the member left) is the group's again.
    if (auto lease =
            state_.LeaseOf(*waiter.member, record.partition.value(), record.offset.value())) {
      out.push_back(Delivery{std::move(record), lease->attempt, lease->expires});
    }
  }
  return out;
}

}  // namespace broker::delivery
