#include "sim_model.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace broker::sim {

namespace {

std::string Text(const Status& s) { return s.ToString(); }

}  // namespace

SimModel::SimModel(std::string topic, std::string group, uint32_t partitions, GroupConfig config,
                   bool sync_broker)
    : topic_(std::move(topic)),
      group_(std::move(group)),
      config_(std::move(config)),
      sync_broker_(sync_broker),
      partitions_(partitions) {}

SimModel::Msg* SimModel::Find(const Position& pos) {
  if (pos.first >= partitions_.size()) return nullptr;
  auto& log = partitions_[pos.first].log;
  return pos.second < log.size() ? &log[pos.second] : nullptr;
}

std::chrono::microseconds SimModel::MinBackoff(uint32_t attempt) const {
  const BackoffPolicy& b = config_.backoff;
  const double nominal =
      std::min(static_cast<double>(std::chrono::microseconds(b.max).count()),
               static_cast<double>(std::chrono::microseconds(b.initial).count()) *
                   std::pow(b.multiplier, attempt > 0 ? attempt - 1 : 0));
  // Less a millisecond for rounding.
  return std::chrono::microseconds(static_cast<int64_t>(nominal * (1 - b.jitter)) - 1000);
}

void SimModel::LeaseRanOut(Msg& m) {
  m.not_before = std::max(m.not_before, m.lease_expires + MinBackoff(m.lease_attempt));
  m.holder.clear();
}

std::string SimModel::Where(const Position& pos) const {
  return "partition " + std::to_string(pos.first) + " offset " + std::to_string(pos.second);
}

void SimModel::Published(const PublishResult& pos, const Message& message, bool sync,
                         TimePoint at) {
  const Position p{pos.partition.value(), pos.offset.value()};
  if (pos.duplicate) {
    auto it = idempotency_.find(message.idempotency_key);
    if (it == idempotency_.end() || it->second != p) {
      Violation("I6: duplicate of key '" + message.idempotency_key + "' answered at " + Where(p) +
                (it == idempotency_.end() ? ", a key with no publish on record"
                                          : ", its first publish is at " + Where(it->second)));
      return;
    }
    // A sync duplicate promises that the original is durable (issue 15, finding 3).
    if (Msg* m = Find(p); m != nullptr && sync) m->durable = true;
    return;
  }
  if (p.first >= partitions_.size()) {
    Violation("I6: publish landed in " + Where(p) + ", the topic has " +
              std::to_string(partitions_.size()) + " partitions");
    return;
  }
  auto& log = partitions_[p.first].log;
  if (p.second != log.size()) {
    Violation("I6: publish landed at " + Where(p) + ", the partition ends at " +
              std::to_string(log.size()));
    return;
  }
  Msg m;
  m.payload = message.payload;
  m.key = message.key;
  m.published_at = at;
  m.durable = sync;
  log.push_back(std::move(m));
  ++stats_.published;
  if (!message.idempotency_key.empty()) {
    if (!idempotency_.count(message.idempotency_key)) {
      idempotency_order_.push_back(message.idempotency_key);
    }
    idempotency_[message.idempotency_key] = p;
  }
}

void SimModel::PublishFailed(const Message& message) {
  failed_[message.payload] = message.idempotency_key;
}

void SimModel::Delivered(const Delivery& d, const std::string& member, TimePoint now) {
  const Position pos{d.record.partition.value(), d.record.offset.value()};
  ++stats_.deliveries;
  Msg* m = Find(pos);
  if (m == nullptr) {
    Violation("I6: delivered " + Where(pos) + " to " + member + ", never published");
    return;
  }
  if (d.record.payload != m->payload || d.record.key != m->key) {
    Violation("I6: delivered " + Where(pos) + " with payload '" + d.record.payload +
              "', published '" + m->payload + "'");
  }
  if (m->persisted_ack) {
    Violation("I2: " + Where(pos) + " delivered (attempt " + std::to_string(d.attempt) +
              ") after its AckPersisted was answered OK");
  }
  if (m->settled_in_life) {
    Violation("I7: " + Where(pos) + " delivered (attempt " + std::to_string(d.attempt) +
              ") after an ack or reject answered OK, with no crash since");
  }
  if (!m->holder.empty() && now < m->lease_expires) {
    Violation("I5: " + Where(pos) + " delivered to " + member + " while " + m->holder +
              "'s lease (attempt " + std::to_string(m->lease_attempt) + ") runs for another " +
              std::to_string((m->lease_expires - now).count()) + " us");
  }
  if (!m->holder.empty() && now >= m->lease_expires) LeaseRanOut(*m);
  if (now < m->not_before) {
    Violation("I9: " + Where(pos) + " delivered " + std::to_string((m->not_before - now).count()) +
              " us before its nack delay or backoff ends");
  }
  const uint32_t floor = m->released ? m->last_attempt : m->last_attempt + 1;
  if (d.attempt < floor) {
    Violation("I4: " + Where(pos) + " delivered with attempt " + std::to_string(d.attempt) +
              ", after attempt " + std::to_string(m->last_attempt) +
              (m->released ? " was released" : ""));
  }
  if (d.attempt > config_.max_deliveries) {
    Violation("I4: " + Where(pos) + " delivered with attempt " + std::to_string(d.attempt) +
              ", past max_deliveries " + std::to_string(config_.max_deliveries));
  }
  if (d.lease_expires_at != now + config_.ack_timeout) {
    Violation("I5: lease of " + Where(pos) + " expires " +
              std::to_string((d.lease_expires_at - now).count()) + " us from now, not after " +
              "the group's ack_timeout");
  }
  if (m->last_attempt > 0) ++stats_.redeliveries;
  m->last_attempt = std::max(m->last_attempt, d.attempt);
  m->released = false;
  m->holder = member;
  m->lease_attempt = d.attempt;
  m->lease_expires = d.lease_expires_at;
}

void SimModel::Settled(Settle kind, const Position& pos, const std::string& member,
                       uint32_t attempt, const Status& status, std::optional<TimePoint> new_expiry,
                       TimePoint now, std::optional<std::chrono::milliseconds> delay) {
  Msg* m = Find(pos);
  if (m == nullptr) return;  // lost to a power loss since
  const bool live = m->holder == member && m->lease_attempt == attempt && now < m->lease_expires;
  // Other errors (a read or write that failed) are the driver's to judge: they need a fault.
  if (live && status.code() == StatusCode::kFailedPrecondition) {
    Violation("I5: " + member + "'s settle of its live lease on " + Where(pos) + " (attempt " +
              std::to_string(attempt) + ") was refused: " + Text(status));
  }
  if (status.code() == StatusCode::kFailedPrecondition) {
    if (m->holder == member && m->lease_attempt == attempt) LeaseRanOut(*m);
    return;
  }
  // An AckPersisted whose write failed still acked in memory (Subscription::AckPersisted); any
  // other failed settle changed nothing.
  if (!status.ok() && kind != Settle::kAckPersisted) return;
  switch (kind) {
    case Settle::kAck:
    case Settle::kAckPersisted:
    case Settle::kReject:
      m->settled_in_life = true;
      m->handled = m->handled || kind != Settle::kReject;
      m->holder.clear();
      if (kind == Settle::kAckPersisted && status.ok()) {
        m->persisted_ack = true;
        ++stats_.persisted_acks;
      }
      break;
    case Settle::kNack:
      m->holder.clear();
      m->not_before = std::max(
          m->not_before, now + (delay ? std::chrono::microseconds(*delay) : MinBackoff(attempt)));
      break;
    case Settle::kRelease:
      m->holder.clear();
      m->released = true;
      break;
    case Settle::kExtend:
      if (new_expiry) {
        if (*new_expiry != now + config_.ack_timeout) {
          Violation("I5: extending " + Where(pos) + " moved its expiry to " +
                    std::to_string((*new_expiry - now).count()) + " us from now");
        }
        m->lease_expires = *new_expiry;
      }
      break;
  }
}

void SimModel::MemberLeft(const std::string& member) {
  for (auto& partition : partitions_) {
    for (Msg& m : partition.log) {
      if (m.holder == member) m.holder.clear();
    }
  }
}

void SimModel::RetentionRan(Broker& broker, TimePoint now, std::chrono::milliseconds age) {
  if (age.count() > 0) retention_cutoff_ = std::max(retention_cutoff_, now - age);
  auto info = broker.DescribeTopic(topic_);
  if (!info.ok()) {
    Violation("I6: DescribeTopic after retention: " + Text(info.status()));
    return;
  }
  for (uint32_t p = 0; p < partitions_.size(); ++p) {
    Trimmed(p, info->partitions[p].first_offset.value());
  }
}

void SimModel::Trimmed(uint32_t p, uint64_t first) {
  Partition& part = partitions_[p];
  for (uint64_t o = part.first; o < first && o < part.log.size(); ++o) {
    Msg& m = part.log[o];
    if (m.published_at > retention_cutoff_) {
      Violation("I6: " + Where({p, o}) + " was deleted though retention never reached it");
    }
    m.deleted = true;
    m.holder.clear();  // the broker ends its lease (the message is gone)
    ++stats_.retention_deleted;
  }
  part.first = std::max(part.first, first);
}

std::vector<SimModel::Lease> SimModel::Leases() const {
  std::vector<Lease> out;
  for (uint32_t p = 0; p < partitions_.size(); ++p) {
    const auto& log = partitions_[p].log;
    for (uint64_t o = 0; o < log.size(); ++o) {
      if (!log[o].holder.empty()) {
        out.push_back({log[o].holder, {p, o}, log[o].lease_attempt, log[o].lease_expires});
      }
    }
  }
  return out;
}

void SimModel::ReconcileLog(Broker& broker, bool power_lost) {
  auto info = broker.DescribeTopic(topic_);
  if (!info.ok()) {
    Violation("I1: the topic is gone after a restart: " + Text(info.status()));
    return;
  }
  for (uint32_t p = 0; p < partitions_.size(); ++p) {
    Partition& part = partitions_[p];
    const uint64_t first = info->partitions[p].first_offset.value();
    const uint64_t end = info->partitions[p].end_offset.value();
    // Records the broker still has, read back whole.
    std::vector<Record> records;
    for (uint64_t from = first; from < end;) {
      auto read = broker.Read(topic_, PartitionId(p), Offset(from));
      if (!read.ok()) {
        Violation("I6: reading " + Where({p, from}) + " after a restart: " + Text(read.status()));
        return;
      }
      if (read->records.empty()) break;
      for (Record& r : read->records) records.push_back(std::move(r));
      from = records.back().offset.value() + 1;
    }
    uint64_t expect = first;
    for (const Record& r : records) {
      if (r.offset.value() != expect) {
        Violation("I6: " + Where({p, r.offset.value()}) + " read after " + std::to_string(expect) +
                  ": the log has a hole");
        return;
      }
      ++expect;
    }
    if (expect != end) {
      Violation("I6: partition " + std::to_string(p) + " reads up to " + std::to_string(expect) +
                " but says it ends at " + std::to_string(end));
    }
    // What was lost: only async publishes, and only to a power loss.
    for (uint64_t o = end; o < part.log.size(); ++o) {
      const Msg& m = part.log[o];
      if (!power_lost) {
        if (!writes_failed_) {
          Violation("I1: " + Where({p, o}) + " ('" + m.payload + "') lost by a clean close");
        }
      } else if (m.durable) {
        Violation("I1: " + Where({p, o}) + " ('" + m.payload +
                  "') was answered durable (sync) and is gone after a power loss");
      }
      ++stats_.lost_async;
    }
    if (end < part.log.size()) {
      for (uint64_t o = end; o < part.log.size(); ++o) {
        for (auto it = idempotency_.begin(); it != idempotency_.end();) {
          it = it->second == Position{p, o} ? idempotency_.erase(it) : std::next(it);
        }
      }
      part.log.resize(end);
    }
    // What is there: what was published at that offset, or a failed publish that got written.
    for (const Record& r : records) {
      const uint64_t o = r.offset.value();
      if (o < part.log.size()) {
        if (part.log[o].payload == r.payload) continue;
        Violation("I6: " + Where({p, o}) + " holds '" + r.payload + "', published '" +
                  part.log[o].payload + "'");
        return;
      }
      auto failed = failed_.find(r.payload);
      if (failed == failed_.end()) {
        Violation("I6: " + Where({p, o}) + " holds '" + r.payload + "', never published");
        return;
      }
      Msg m;
      m.payload = r.payload;
      m.key = r.key;
      m.published_at = r.timestamp;
      part.log.push_back(std::move(m));
      if (!failed->second.empty()) idempotency_[failed->second] = {p, o};
      ++stats_.phantoms;
    }
    if (first < part.first) {
      // Retention's deletes are not synced by themselves: a power loss may bring records back.
      if (!power_lost && !writes_failed_) {
        Violation("I6: partition " + std::to_string(p) + " starts at " + std::to_string(first) +
                  " after a clean close, retention had deleted up to " +
                  std::to_string(part.first));
      }
      for (uint64_t o = first; o < part.first && o < part.log.size(); ++o) {
        part.log[o].deleted = false;
      }
      part.first = first;
    }
    Trimmed(p, first);
  }
}

void SimModel::Reopened(Broker& broker, bool power_lost) {
  for (auto& partition : partitions_) {
    for (Msg& m : partition.log) {
      m.holder.clear();
      if (power_lost || writes_failed_) {
        m.settled_in_life = false;
        m.not_before = TimePoint();  // a nack may be lost: the old lease's expiry counts
      }
      // An async broker does not sync lease grants: a power loss may take attempts back.
      if (power_lost && !sync_broker_) {
        m.last_attempt = 0;
        m.persisted_ack = false;
      }
    }
  }
  ReconcileLog(broker, power_lost);
  writes_failed_ = false;
}

void SimModel::CheckLag(Broker& broker, TimePoint now) {
  auto info = broker.DescribeGroup(topic_, group_);
  if (!info.ok()) {
    Violation("I8: DescribeGroup: " + Text(info.status()));
    return;
  }
  std::vector<uint64_t> live(partitions_.size()), held(partitions_.size());
  for (const Lease& l : Leases()) {
    ++held[l.pos.first];
    if (now < l.expires) ++live[l.pos.first];
  }
  for (const Lease& l : Leases()) {
    if (now >= l.expires) continue;
    auto states = broker.GetMessageState(topic_, PartitionId(l.pos.first), Offset(l.pos.second));
    if (!states.ok()) continue;  // a read fault, say
    for (const MessageGroupState& s : *states) {
      if (s.group == group_ && (s.status != MessageStatus::kLeased || s.leased_by != l.member ||
                                s.attempts != l.attempt)) {
        Violation("I5: " + Where(l.pos) + " shows " + std::string(MessageStatusName(s.status)) +
                  " by '" + s.leased_by + "' attempts " + std::to_string(s.attempts) + " while " +
                  l.member + " holds a live lease (attempt " + std::to_string(l.attempt) + ")");
      }
    }
  }
  for (const PartitionLag& lag : info->partitions) {
    const uint32_t p = lag.partition.value();
    if (p >= partitions_.size()) continue;
    const std::string where = "partition " + std::to_string(p) + ": ";
    if (lag.unsettled != lag.backlog + lag.in_flight + lag.delayed) {
      Violation("I8: " + where + "unsettled " + std::to_string(lag.unsettled) + " != backlog " +
                std::to_string(lag.backlog) + " + in_flight " + std::to_string(lag.in_flight) +
                " + delayed " + std::to_string(lag.delayed));
    }
    if (lag.end_offset.value() != partitions_[p].log.size()) {
      Violation("I8: " + where + "lag says end " + std::to_string(lag.end_offset.value()) +
                ", the log ends at " + std::to_string(partitions_[p].log.size()));
    }
    if (lag.ack_floor > lag.end_offset) {
      Violation("I8: " + where + "ack floor " + std::to_string(lag.ack_floor.value()) +
                " past the end " + std::to_string(lag.end_offset.value()));
    }
    // (Leases that expired may still count until the broker's timers run.)
    if (lag.in_flight < live[p]) {
      Violation("I8: " + where + "in_flight " + std::to_string(lag.in_flight) + ", but the " +
                "simulation holds " + std::to_string(held[p]) + " leases, " +
                std::to_string(live[p]) + " of them live");
    }
  }
}

bool SimModel::unsettled_remaining(Broker& broker) {
  auto info = broker.DescribeGroup(topic_, group_);
  return !info.ok() || info->total.unsettled > 0;
}

void SimModel::CheckDrained(Broker& broker) {
  auto info = broker.DescribeGroup(topic_, group_);
  if (!info.ok()) {
    Violation("I3: DescribeGroup: " + Text(info.status()));
    return;
  }
  if (info->total.unsettled != 0) {
    Violation("I3: " + std::to_string(info->total.unsettled) +
              " messages still unsettled after the drain (backlog " +
              std::to_string(info->total.backlog) + ", in flight " +
              std::to_string(info->total.in_flight) + ", delayed " +
              std::to_string(info->total.delayed) + ")");
  }
  std::map<Position, int> letters;
  for (Offset from(0);;) {
    auto page = broker.ListDeadLettersFrom(topic_, group_, from, 1000);
    if (!page.ok()) {
      Violation("I3: ListDeadLetters: " + Text(page.status()));
      return;
    }
    for (const DeadLetter& l : *page) {
      ++letters[{l.original_partition.value(), l.original_offset.value()}];
    }
    if (page->size() < 1000) break;
    from = Offset(page->back().record.offset.value() + 1);
  }
  for (uint32_t p = 0; p < partitions_.size(); ++p) {
    const Partition& part = partitions_[p];
    for (uint64_t o = 0; o < part.log.size(); ++o) {
      const Position pos{p, o};
      auto states = broker.GetMessageState(topic_, PartitionId(p), Offset(o));
      if (!states.ok()) {
        Violation("I3: GetMessageState(" + Where(pos) + "): " + Text(states.status()));
        continue;
      }
      const MessageGroupState* s = nullptr;
      for (const MessageGroupState& state : *states) {
        if (state.group == group_) s = &state;
      }
      if (s == nullptr) {
        Violation("I3: " + Where(pos) + " has no state in the group");
        continue;
      }
      const bool expired_ok = o < part.first && s->status == MessageStatus::kExpired;
      if (s->status != MessageStatus::kAcked && s->status != MessageStatus::kDead && !expired_ok) {
        Violation("I3: " + Where(pos) + " ends " + std::string(MessageStatusName(s->status)) +
                  " (attempts " + std::to_string(s->attempts) + ")");
      }
      if (s->status == MessageStatus::kAcked && !part.log[o].handled) {
        Violation("I3: " + Where(pos) + " ends acked, but no ack of it was ever answered OK: " +
                  "settled without being handled");
      }
      const int n = letters.count(pos) ? letters[pos] : 0;
      if (s->status == MessageStatus::kDead && n != 1 && !part.log[o].deleted) {
        Violation("I3: " + Where(pos) + " is dead with " + std::to_string(n) + " dead letters");
      }
      if (s->status != MessageStatus::kDead && n != 0) {
        Violation("I3: " + Where(pos) + " is " + std::string(MessageStatusName(s->status)) +
                  " but has " + std::to_string(n) + " dead letters");
      }
    }
  }
}

}  // namespace broker::sim
