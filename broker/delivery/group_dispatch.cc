// Group: dispatch (credit-based leasing in the three ordering modes) and settling.
#include <algorithm>
#include <charconv>
#include <future>
#include <system_error>
#include <utility>

#include <xxhash.h>

#include "delivery/dead_letters.h"
#include "delivery/group.h"
#include "storage/log_reader.h"
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

}  // namespace

void Group::Lease(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
                  TimePoint now) {
  Cursor& c = cursors_[partition];
  Detach(c, e);
  e.state = State::kLeased;
  e.record.state = EntryState::kLeased;
  e.record.attempts += 1;
  e.record.member = member;
  e.record.lease_expires = now + record_.config.ack_timeout;
  if (e.record.attempts == 1) e.record.first_delivery = now;
  e.record.last_delivery = now;
  Attach(partition, offset, c, e);
  ++counters_.delivered;
  if (e.record.attempts > 1) ++counters_.redelivered;
}

void Group::Grant(const std::string& member, uint32_t partition, uint64_t offset, Entry& e,
                  Record record, TimePoint now, std::vector<Delivery>& out) {
  Lease(member, partition, offset, e, now);
  PersistGrant(partition, offset, e);
  out.push_back(Delivery{std::move(record), e.record.attempts, e.record.lease_expires});
}

bool Group::KeyIsFree(const Cursor& c, uint64_t key_hash, uint64_t offset) const {
  const std::set<uint64_t>& offsets = c.by_key.at(key_hash);
  if (*offsets.begin() != offset) return false;
  // A redriven message can be older than one of its key already in flight: it waits for that one.
  for (uint64_t other : offsets) {
    if (c.unsettled.at(other).state != State::kAvailable) return false;
  }
  return true;
}

namespace {

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

Status Group::SelectDeliveries(const std::string& member, size_t max, std::vector<Delivery>& out) {
  Status read_error;
  const Member& m = members_.at(member);
  size_t credit = std::min<size_t>(max, m.max_in_flight > m.leased ? m.max_in_flight - m.leased : 0);
  const bool per_key = record_.config.ordering == Ordering::kPerKey;
  const bool per_partition = record_.config.ordering == Ordering::kPerPartition;
  const uint32_t partitions = static_cast<uint32_t>(cursors_.size());
  const uint32_t start = next_partition_++ % partitions;
  const TimePoint now = context_.clock->Now();

  for (uint32_t i = 0; i < partitions && credit > 0; ++i) {
    const uint32_t p = (start + i) % partitions;
    Cursor& c = cursors_[p];
    if (per_partition) {
      if (!Owns(member, p)) continue;
      // Ownership moved here: wait until the previous owner's leases are settled or expire.
      const auto mine = c.leased_by.find(member);
      if (c.leased - (mine == c.leased_by.end() ? 0 : mine->second) > 0) continue;
    }
    DropExpired(p);

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
      auto record = ReadOne(p, offset);
      if (!record.ok()) {  // stays available: the next poll reads it again
        if (read_error.ok()) read_error = record.status();
        continue;
      }
      if (!*record) {  // deleted by retention meanwhile
        ++c.expired;
        MarkCursorDirty(p);
        Settle(p, offset, true);
        continue;
      }
      if (record_.config.serves_requests && RequestExpired(**record, now)) {
        ++counters_.expired_requests;
        Settle(p, offset, true);
        continue;
      }
      Grant(member, p, offset, c.unsettled.at(offset), std::move(**record), now, out);
      --credit;
    }

    // Records never read by the group.
    const uint64_t end = topic_->partitions[p]->end_offset.load();
    while (credit > 0 && c.next < end &&
           (!per_key || c.unsettled.size() < kMaxUnsettledPerPartition)) {
      auto read = ReadUnread(p, c.next, credit + (per_key ? 64 : 0));
      if (!read.ok() && read_error.ok()) read_error = read.status();
      if (!read.ok() || read->records.empty()) break;
      for (Record& record : read->records) {
        const uint64_t offset = record.offset.value();
        if (offset > c.next) c.expired += offset - c.next;  // deleted by retention unread
        c.next = offset + 1;
        MarkCursorDirty(p);
        if (record_.config.serves_requests && RequestExpired(record, now)) {
          ++counters_.expired_requests;  // settled by moving past it: no entry, no write of its own
          continue;
        }
        const bool key_busy = per_key && record.key &&
                              c.by_key.contains(XXH64(record.key->data(), record.key->size(), 0));
        Entry& e = AddEntry(p, offset, record.key);
        if (key_busy || credit == 0) {
          QueuePut(p, offset, e);  // waits as "available": must survive a restart
          continue;
        }
        Grant(member, p, offset, e, std::move(record), now, out);
        --credit;
      }
    }
  }
  return read_error;
}

Result<std::vector<Delivery>> Group::Poll(const std::string& member, size_t max,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Waiter waiter;
  waiter.member = &member;
  waiter.max = max;
  Lock lock(mu_);
  waiters_.push_back(&waiter);
  auto result = PollLocked(lock, waiter, deadline);
  std::erase(waiters_, &waiter);
  if (waiter.committed) return TakeHandOff(waiter);
  return result;
}

Result<std::vector<Delivery>> Group::PollLocked(Lock& lock, Waiter& waiter,
                                                std::chrono::steady_clock::time_point deadline) {
  const std::string& member = *waiter.member;
  for (;;) {
    // Leases a commit staged for this call are decided by that commit (FinishHandOff, at most
    // one commit away): they are this call's, or undone.
    cv_.wait(lock, [&waiter] { return waiter.staged.empty() || waiter.committed; });
    if (waiter.committed) return std::vector<Delivery>{};
    if (Status s = CheckOpen(); !s.ok()) return s;
    if (!members_.contains(member)) {
      return Status::FailedPrecondition("member '" + member + "' is not in group '" + name_ + "'");
    }
    ProcessDue(context_.clock->Now());
    // Leasing is a write. While RocksDB recovers from a full disk every write is refused: say so
    // without leasing, so that polls retried meanwhile neither write nor count attempts. The
    // timer thread wakes the members once writes work again (RunTimers).
    // (A Poll with nothing to lease parks as usual.)
    const auto anything_to_lease = [this] {
      for (uint32_t p = 0; p < cursors_.size(); ++p) {
        const Cursor& c = cursors_[p];
        if (!c.available.empty() || c.next < topic_->partitions[p]->end_offset.load()) return true;
      }
      return false;
    };
    if (waiter.max > 0 && context_.db->recovering_from_full_disk() && anything_to_lease()) {
      leasing_refused_for_space_ = true;
      return Status::ResourceExhausted(
          "the disk is full: no message can be leased until space returns on the data "
          "directory's filesystem (acks are still taken)");
    }
    std::vector<Delivery> out;
    Status read_error;
    if (waiter.max > 0) read_error = SelectDeliveries(member, waiter.max, out);
    // Nothing to hand out because the log could not be read: say so rather than wait (the
    // messages stay unsettled; a later poll tries again).
    if (out.empty() && !read_error.ok()) return read_error;
    // Other changes (acks, say) wait for their batch (ShipIfFull, the timer thread): a member
    // that has nothing to deliver does not wait for a commit before it parks.
    if (!out.empty()) {
      // The leases (with their attempt counts) are committed before anyone sees the messages.
      std::promise<Status> committed;
      auto future = committed.get_future();
      Ship(context_.durability, [&committed](const Status& s) { committed.set_value(s); });
      lock.unlock();
      Status status = future.get();
      lock.lock();
      if (!status.ok() && !out.empty()) {
        for (const Delivery& d : out) {  // hand them back; attempts stay counted
          Cursor& c = cursors_[d.record.partition.value()];
          auto it = c.unsettled.find(d.record.offset.value());
          if (it != c.unsettled.end() && it->second.state == State::kLeased &&
              it->second.record.member == member) {
            SetState(d.record.partition.value(), d.record.offset.value(), it->second,
                     State::kAvailable);
          }
        }
        if (status.code() == StatusCode::kResourceExhausted) leasing_refused_for_space_ = true;
        return status;
      }
      if (!out.empty()) return out;
      continue;
    }
    const auto now_steady = std::chrono::steady_clock::now();
    if (now_steady >= deadline) return out;
    auto wake = deadline;
    std::optional<TimePoint> next_due;
    if (!lease_timers_.empty()) next_due = lease_timers_.begin()->first;
    if (!due_timers_.empty() && (!next_due || due_timers_.begin()->first < *next_due)) {
      next_due = due_timers_.begin()->first;
    }
    if (next_due) {
      const auto until_due = *next_due - context_.clock->Now();
      wake = std::min(wake, now_steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             std::max(until_due, std::chrono::microseconds(0))));
    }
    // Parked: a publish may lease records to this call in its own commit (StageHandOff).
    waiter.parked = true;
    cv_.wait_until(lock, wake);
    waiter.parked = false;
  }
}

Result<Group::Entry*> Group::FindLeased(const std::string& member, PartitionId partition,
                                        Offset offset, uint32_t attempt) {
  if (Status s = CheckOpen(); !s.ok()) return s;
  if (partition.value() >= cursors_.size()) {
    return Status::InvalidArgument("topic '" + record_.topic + "' has no partition " +
                                   std::to_string(partition.value()));
  }
  Cursor& c = cursors_[partition.value()];
  auto it = c.unsettled.find(offset.value());
  if (it == c.unsettled.end()) {
    if (offset.value() >= c.next) {
      return Status::FailedPrecondition(Where(partition, offset) +
                                        " was never delivered to group '" + name_ + "'");
    }
    return Status::FailedPrecondition(Where(partition, offset) + " is already settled in group '" +
                                      name_ + "' (acked, dead-lettered or expired)");
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
    return Status::FailedPrecondition(
        Where(partition, offset) + ": the lease of delivery attempt " + std::to_string(attempt) +
        " has ended; the message was delivered again (attempt " +
        std::to_string(e.record.attempts) + ")");
  }
  if (context_.clock->Now() >= e.record.lease_expires) {
    return Status::FailedPrecondition(Where(partition, offset) + ": its lease expired at " +
                                      FormatTime(e.record.lease_expires) +
                                      "; it will be redelivered");
  }
  return &e;
}

Status Group::Ack(const std::string& member, PartitionId partition, Offset offset,
                  uint32_t attempt, std::function<void(const Status&)> persisted) {
  std::lock_guard lock(mu_);
  auto e = FindLeased(member, partition, offset, attempt);
  if (!e.ok()) return e.status();
  const bool had_key = (*e)->record.has_key;
  Settle(partition.value(), offset.value(), true);
  ++counters_.acked;
  if (persisted) {
    Ship(context_.durability, std::move(persisted));
  } else {
    ShipIfFull();
  }
  // Freed credit, or unblocked the key's next message.
  if (had_key && record_.config.ordering == Ordering::kPerKey) {
    WakeMembers();
  } else {
    cv_.notify_all();
  }
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
    return Status(s.code(), "the ack of " + Where(partition, offset) +
                                " was taken but not persisted (" + s.message() +
                                "); it is written with the group's next write, and until then "
                                "a crash may redeliver the message");
  }
  return Status::Ok();
}

Status Group::Nack(const std::string& member, PartitionId partition, Offset offset,
                   uint32_t attempt, std::optional<std::chrono::milliseconds> delay,
                   const std::string& error) {
  if (delay && *delay > storage::kMaxDuration) {
    return Status::InvalidArgument("nack delay must be at most 100 years");
  }
  std::lock_guard lock(mu_);
  auto e = FindLeased(member, partition, offset, attempt);
  if (!e.ok()) return e.status();
  Entry& entry = **e;
  entry.record.last_error = SettleText(error, "nacked");
  // A negative delay means "now", as zero does (clamped first: the cast could overflow).
  const auto wait =
      delay ? std::chrono::duration_cast<std::chrono::microseconds>(
                  std::max(*delay, std::chrono::milliseconds(0)))
            : BackoffFor(entry.record.attempts);
  Fail(partition.value(), offset.value(), entry, wait);
  ++counters_.nacked;
  ShipIfFull();
  cv_.notify_all();
  return Status::Ok();
}

Result<TimePoint> Group::Extend(const std::string& member, PartitionId partition, Offset offset,
                                uint32_t attempt) {
  std::lock_guard lock(mu_);
  auto e = FindLeased(member, partition, offset, attempt);
  if (!e.ok()) return e.status();
  Entry& entry = **e;
  Detach(cursors_[partition.value()], entry);
  entry.record.lease_expires = context_.clock->Now() + record_.config.ack_timeout;
  Attach(partition.value(), offset.value(), cursors_[partition.value()], entry);
  QueuePut(partition.value(), offset.value(), entry);
  ShipIfFull();
  return entry.record.lease_expires;
}

Status Group::Reject(const std::string& member, PartitionId partition, Offset offset,
                     uint32_t attempt, const std::string& reason) {
  std::lock_guard lock(mu_);
  auto e = FindLeased(member, partition, offset, attempt);
  if (!e.ok()) return e.status();
  std::string last_error = std::exchange((*e)->record.last_error, SettleText(reason, "rejected"));
  if (Status s = StartDeadLetter(partition.value(), offset.value(), **e, "rejected"); !s.ok()) {
    (*e)->record.last_error = std::move(last_error);
    return Status(s.code(), "could not dead-letter " + Where(partition, offset) + ": " +
                                s.message() + "; it is still leased to member '" + member + "'");
  }
  ++counters_.rejected;
  cv_.notify_all();
  return Status::Ok();
}

Status Group::Release(const std::string& member, PartitionId partition, Offset offset,
                      uint32_t attempt) {
  std::lock_guard lock(mu_);
  auto e = FindLeased(member, partition, offset, attempt);
  if (!e.ok()) return e.status();
  Entry& entry = **e;
  // No handler saw this delivery: it did not happen. The record written below replaces the one
  // the grant wrote (or takes the offset out of its lease run), so a restart sees the restored
  // count too.
  entry.record.attempts -= 1;  // a lease always counted one
  if (entry.record.attempts == 0) entry.record.first_delivery = entry.record.last_delivery = {};
  SetState(partition.value(), offset.value(), entry, State::kAvailable);
  ShipIfFull();
  WakeMembers();  // another member (or this one's next poll) may take it now
  return Status::Ok();
}

Status Group::StartDeadLetter(uint32_t partition, uint64_t offset, Entry& e,
                              const std::string& reason) {
  auto original = ReadOne(partition, offset);
  if (!original.ok()) return original.status();
  if (!*original) {  // deleted by retention: nothing left to dead-letter
    ++cursors_[partition].expired;
    MarkCursorDirty(partition);
    Settle(partition, offset, true);
    return Status::Ok();
  }
  SetState(partition, offset, e, State::kDeadPending);
  DeadRecord dead{PartitionId(partition), Offset(offset), reason, e.record.last_error,
                  e.record.attempts, e.record.first_delivery, context_.clock->Now()};
  // Earlier changes go first, so the write below is the last word on this message.
  Ship(Durability::kAsync, nullptr);

  storage::AppendRequest request;
  request.topic = dlq_topic_;
  request.internal = true;
  request.durability = context_.durability;
  request.messages.push_back(BuildDeadLetterMessage(**original, record_.topic, name_, dead));
  const std::string message_key = MessageKey(topic_id(), name_, PartitionId(partition), Offset(offset));
  request.extra = [cf = context_.db->groups(), message_key, topic = topic_id(), group = name_,
                   dead](rocksdb::WriteBatch& batch, const std::vector<PublishResult>& positions) {
    // Appending the dead letter and settling the original are one atomic write.
    batch.Delete(cf, message_key);
    batch.Put(cf, DeadKey(topic, group, positions.at(0).offset), EncodeDeadRecord(dead));
  };
  request.done = [weak = weak_from_this(), partition, offset,
                  dead](Result<std::vector<PublishResult>> result) {
    if (auto self = weak.lock()) self->OnDeadLettered(partition, offset, dead, result);
  };
  if (Status s = context_.writer->Append(std::move(request)); !s.ok()) {
    RetryDeadLetterLater(partition, offset, e);  // shutting down; retried after a restart
  }
  return Status::Ok();
}

void Group::RetryDeadLetterLater(uint32_t partition, uint64_t offset, Entry& e) {
  // Not sooner than 100 ms, so a fault that lasts cannot make the timers spin.
  e.record.due_at = context_.clock->Now() +
                    std::max<std::chrono::microseconds>(record_.config.backoff.initial,
                                                        std::chrono::milliseconds(100));
  SetState(partition, offset, e, State::kDelayed);
}

void Group::OnDeadLettered(uint32_t partition, uint64_t offset, const DeadRecord& dead,
                           const Result<std::vector<PublishResult>>& result) {
  std::lock_guard lock(mu_);
  Cursor& c = cursors_[partition];
  auto it = c.unsettled.find(offset);
  if (it == c.unsettled.end() || it->second.state != State::kDeadPending) return;
  if (result.ok()) {
    dead_[result->at(0).offset.value()] = dead;
    // The dead-letter write deleted its record; deleted again in case a retried group write
    // carried it after that (Ship writes a dead-pending message's record).
    Settle(partition, offset, true);
    ++counters_.dead_lettered;
  } else {
    // Try again later (e.g. after the disk has room again); the attempt count stays.
    RetryDeadLetterLater(partition, offset, it->second);
  }
  WakeMembers();
}

}  // namespace broker::delivery
