#include "torture_checker.h"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "torture_workload.h"

namespace broker::torture {
namespace {

using Position = std::pair<uint32_t, uint64_t>;
using GroupId = std::pair<std::string, std::string>;  // (group, message id)

std::string Describe(const Position& p) {
  return "(" + std::to_string(p.first) + ", " + std::to_string(p.second) + ")";
}

std::optional<std::string> HeaderOf(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

class Checker {
 public:
  Checker(Broker& broker, const TortureHistory& history)
      : broker_(broker),
        publishes_(history.publishes()),
        deliveries_(history.deliveries()),
        settles_(history.settles()),
        kills_(history.kills()) {
    std::sort(kills_.begin(), kills_.end());
    for (const SettleEvent& s : settles_) settles_by_message_[{s.group, s.id}].push_back(&s);
  }

  TortureFigures Run() {
    CheckLog();
    CheckDeliveries();  // before the groups: they compare with the highest attempt seen
    for (const GroupSpec& g : kGroups) CheckGroup(std::string(g.name));
    return std::move(figures_);
  }

 private:
  void Violation(std::string what) {
    if (figures_.violations.size() < 200) figures_.violations.push_back(std::move(what));
  }

  // A kill in [from, to]?
  std::optional<SteadyTime> KillBetween(SteadyTime from, SteadyTime to) const {
    auto it = std::lower_bound(kills_.begin(), kills_.end(), from);
    if (it != kills_.end() && *it <= to) return *it;
    return std::nullopt;
  }

  // ---- The log ---------------------------------------------------------------------------
  void CheckLog() {
    for (const auto& [id, record] : publishes_) {
      figures_.publish_calls += record.calls;
      figures_.failed_calls += record.failed_calls;
      if (!record.acknowledged) continue;
      ++figures_.acknowledged;
      figures_.dedupe_answers += record.answered_duplicate;
      const Position at{record.result.partition.value(), record.result.offset.value()};
      auto [it, fresh] = acknowledged_at_.emplace(at, id);
      if (!fresh) {
        Violation("position " + Describe(at) + " acknowledged to both " + it->second + " and " +
                  id + ": an offset was reused");
      }
    }

    auto topic = broker_.DescribeTopic(kTopic);
    if (!topic.ok()) {
      Violation("cannot describe the topic: " + topic.status().ToString());
      return;
    }
    std::map<std::string, uint32_t> partition_of_key;
    for (const PartitionInfo& info : topic->partitions) {
      const uint32_t p = info.partition.value();
      if (info.first_offset.value() != 0) {
        Violation("partition " + std::to_string(p) + " starts at " +
                  std::to_string(info.first_offset.value()) +
                  ", not 0 (nothing should be deleted)");
      }
      uint64_t expected = 0;
      while (expected < info.end_offset.value()) {
        auto read = broker_.Read(kTopic, info.partition, Offset(expected));
        if (!read.ok() || read->records.empty()) {
          Violation("reading partition " + std::to_string(p) + " at " + std::to_string(expected) +
                    " below its end " + std::to_string(info.end_offset.value()) + ": " +
                    (read.ok() ? "no records" : read.status().ToString()));
          break;
        }
        for (const Record& r : read->records) {
          if (r.offset.value() != expected) {
            Violation("partition " + std::to_string(p) + ": offset " +
                      std::to_string(r.offset.value()) + " where " + std::to_string(expected) +
                      " was expected (offsets must be dense)");
          }
          expected = r.offset.value() + 1;
          CheckRecord(p, r, partition_of_key);
        }
      }
    }

    for (const auto& [id, record] : publishes_) {
      if (!record.acknowledged) continue;
      const Position at{record.result.partition.value(), record.result.offset.value()};
      auto found = position_of_.find(id);
      if (found == position_of_.end()) {
        ++figures_.lost;
        Violation("LOST: " + id + " was acknowledged at " + Describe(at) +
                  " but is not in the log");
      } else if (found->second != at) {
        ++figures_.lost;
        Violation("LOST: " + id + " was acknowledged at " + Describe(at) + " but is stored at " +
                  Describe(found->second));
      }
    }
  }

  void CheckRecord(uint32_t p, const Record& r, std::map<std::string, uint32_t>& partition_of_key) {
    ++figures_.log_records;
    const Position at{p, r.offset.value()};
    const auto id = HeaderOf(r.headers, kIdHeader);
    if (!id) {
      Violation("record " + Describe(at) + " has no " + std::string(kIdHeader) + " header");
      return;
    }
    if (auto [it, fresh] = position_of_.emplace(*id, at); !fresh) {
      Violation(*id + " is in the log twice, at " + Describe(it->second) + " and " + Describe(at) +
                ": producer dedupe failed");
      return;
    }
    id_at_[at] = *id;
    const Message expected = MakeMessage(*id);
    if (r.payload != expected.payload || r.key != expected.key) {
      ++figures_.lost;
      Violation("LOST: " + *id + " at " + Describe(at) + " has different key or payload bytes");
    }
    for (const auto& [name, value] : expected.headers) {
      if (HeaderOf(r.headers, name) != value) {
        Violation(*id + " at " + Describe(at) + ": header " + name + " differs or is missing");
      }
    }
    if (r.key) {
      auto [it, fresh] = partition_of_key.emplace(*r.key, p);
      if (!fresh && it->second != p) {
        Violation("key " + *r.key + " is in partitions " + std::to_string(it->second) + " and " +
                  std::to_string(p) + ": partitioning is not stable");
      }
    }
    auto published = publishes_.find(*id);
    if (published == publishes_.end()) {
      Violation(*id + " is in the log but was never published");
    } else if (!published->second.acknowledged) {
      ++figures_.in_log_unacknowledged;
    }
  }

  // ---- One group -------------------------------------------------------------------------
  void CheckGroup(const std::string& group) {
    GroupFigures& f = figures_.groups[group];
    auto info = broker_.DescribeGroup(kTopic, group);
    if (!info.ok()) {
      Violation(group + ": cannot describe: " + info.status().ToString());
      return;
    }
    for (const PartitionLag& lag : info->partitions) {
      if (lag.unsettled != 0 || lag.ack_floor != lag.end_offset) {
        Violation(group + ": partition " + std::to_string(lag.partition.value()) + " has " +
                  std::to_string(lag.unsettled) + " unsettled messages, ack floor " +
                  std::to_string(lag.ack_floor.value()) + " of " +
                  std::to_string(lag.end_offset.value()));
      }
    }

    // The DLQ as the group indexes it, and as the dead-letter topic holds it.
    std::map<Position, DeadLetter> dead;
    auto letters = broker_.ListDeadLetters(kTopic, group, 1u << 30);
    if (!letters.ok()) {
      Violation(group + ": cannot list dead letters: " + letters.status().ToString());
      return;
    }
    for (DeadLetter& d : *letters) {
      const Position at{d.original_partition.value(), d.original_offset.value()};
      if (dead.contains(at)) {
        Violation(group + ": " + Describe(at) + " dead-lettered twice");
        continue;
      }
      dead.emplace(at, std::move(d));
    }
    CheckDeadLetterTopic(group, dead);

    for (const auto& [at, id] : id_at_) {
      auto states = broker_.GetMessageState(kTopic, PartitionId(at.first), Offset(at.second));
      if (!states.ok()) {
        Violation(group + ": no state for " + id + ": " + states.status().ToString());
        continue;
      }
      const MessageGroupState* state = nullptr;
      for (const auto& s : *states) {
        if (s.group == group) state = &s;
      }
      if (state == nullptr) {
        Violation(group + ": no state for " + id);
        continue;
      }
      CheckFinalState(group, id, at, *state, dead, f);
    }
    for (const auto& [at, letter] : dead) {
      if (!id_at_.contains(at)) {
        Violation(group + ": dead letter for " + Describe(at) + ", which is not in the log");
      }
    }
  }

  void CheckDeadLetterTopic(const std::string& group, const std::map<Position, DeadLetter>& dead) {
    const std::string dlq = std::string(kTopic) + "." + group + ".dlq";
    auto topic = broker_.DescribeTopic(dlq);
    if (!topic.ok()) {
      if (!dead.empty()) Violation(group + ": dead letters but no topic " + dlq);
      return;
    }
    std::set<Position> seen;
    for (const PartitionInfo& info : topic->partitions) {
      uint64_t next = info.first_offset.value();
      while (next < info.end_offset.value()) {
        auto read = broker_.Read(dlq, info.partition, Offset(next));
        if (!read.ok() || read->records.empty()) {
          Violation(dlq + ": cannot read at " + std::to_string(next));
          break;
        }
        for (const Record& r : read->records) {
          next = r.offset.value() + 1;
          const auto p = HeaderOf(r.headers, "dlq.original_partition");
          const auto o = HeaderOf(r.headers, "dlq.original_offset");
          if (!p || !o) {
            Violation(dlq + ": record " + std::to_string(r.offset.value()) +
                      " lacks its original position");
            continue;
          }
          const Position at{static_cast<uint32_t>(std::stoul(*p)), std::stoull(*o)};
          if (!seen.insert(at).second) {
            Violation(dlq + ": " + Describe(at) + " appended twice");
          }
          if (!dead.contains(at)) {
            Violation(dlq + ": holds " + Describe(at) + ", which the group does not list as dead");
          }
          if (HeaderOf(r.headers, "dlq.group") != group ||
              HeaderOf(r.headers, "dlq.original_topic") != std::string(kTopic)) {
            Violation(dlq + ": " + Describe(at) + " has wrong dlq.group or dlq.original_topic");
          }
          auto id = id_at_.find(at);
          if (id != id_at_.end()) {
            const Message original = MakeMessage(id->second);
            if (r.payload != original.payload || r.key != original.key ||
                HeaderOf(r.headers, kIdHeader) != id->second) {
              Violation(dlq + ": " + id->second + " does not keep its original bytes and headers");
            }
          }
        }
      }
    }
    if (seen.size() != dead.size()) {
      Violation(dlq + ": holds " + std::to_string(seen.size()) + " letters, the group lists " +
                std::to_string(dead.size()));
    }
  }

  uint32_t MaxAttemptSeen(const std::string& group, const std::string& id) const {
    auto it = max_attempt_.find({group, id});
    return it == max_attempt_.end() ? 0 : it->second;
  }

  void CheckFinalState(const std::string& group, const std::string& id, const Position& at,
                       const MessageGroupState& state, const std::map<Position, DeadLetter>& dead,
                       GroupFigures& f) {
    const MessageClass cls = ClassOf(id);
    auto letter = dead.find(at);
    const auto& settles = settles_by_message_[{group, id}];
    auto called = [&](SettleKind kind) {
      return std::any_of(settles.begin(), settles.end(),
                         [&](const SettleEvent* s) { return s->kind == kind; });
    };
    if (state.status == MessageStatus::kAcked) {
      ++f.acked;
      if (letter != dead.end()) Violation(group + ": " + id + " is acked and dead-lettered");
      if (cls != MessageClass::kNormal) {
        Violation(group + ": " + id + " (" + std::string(ClassName(cls)) +
                  ") is acked, but no consumer ever acks it");
      } else if (!called(SettleKind::kAck)) {
        Violation(group + ": " + id + " is acked, but no consumer asked to ack it");
      }
      return;
    }
    if (state.status != MessageStatus::kDead) {
      Violation(group + ": " + id + " at " + Describe(at) + " ends " +
                std::string(MessageStatusName(state.status)) +
                " (unsettled), not acked or dead-lettered");
      return;
    }
    if (letter == dead.end()) {
      Violation(group + ": " + id + " is dead but not in the group's dead letters");
      return;
    }
    const DeadLetter& d = letter->second;
    const uint32_t seen = MaxAttemptSeen(group, id);
    if (d.attempts < seen) {
      Violation(group + ": " + id + " dead-lettered with attempts " + std::to_string(d.attempts) +
                " after a consumer saw attempt " + std::to_string(seen) + ": attempts went down");
    }
    if (d.reason == "rejected") {
      ++f.dead_rejected;
      if (cls != MessageClass::kRejected || !called(SettleKind::kReject)) {
        Violation(group + ": " + id + " rejected, but no consumer rejected it");
      }
      return;
    }
    if (d.reason != "max_deliveries") {
      Violation(group + ": " + id + " dead-lettered for unexpected reason '" + d.reason + "'");
      return;
    }
    ++f.dead_max_deliveries;
    if (d.attempts != kMaxDeliveries) {
      Violation(group + ": " + id + " dead-lettered for max_deliveries after " +
                std::to_string(d.attempts) + " attempts, not " + std::to_string(kMaxDeliveries));
    }
    switch (cls) {
      case MessageClass::kPoison:
        ++f.dead_poison;
        // Its last error is the handler's exception text, unless its last lease expired (a kill).
        if (d.last_error.find("poison") == std::string::npos &&
            d.last_error.find("lease") == std::string::npos &&
            d.last_error.find("expired") == std::string::npos) {
          Violation(group + ": " + id + " has last error '" + d.last_error +
                    "', not the handler's exception text");
        }
        break;
      case MessageClass::kNormal:
      case MessageClass::kRejected:
        // Allowed: crashes lost enough of its leases (each lease counts as an attempt).
        ++f.dead_normal;
        break;
    }
  }

  // ---- Deliveries ------------------------------------------------------------------------
  void CheckDeliveries() {
    std::map<GroupId, std::vector<const DeliveryEvent*>> by_message;
    for (const DeliveryEvent& d : deliveries_) by_message[{d.group, d.id}].push_back(&d);
    for (const auto& [key, list] : by_message) {
      const auto& [group, id] = key;
      GroupFigures& f = figures_.groups[group];
      const auto& settles = settles_by_message_[key];
      for (const SettleEvent* s : settles) {
        if (s->code != StatusCode::kOk && s->code != StatusCode::kUnknown) ++f.failed_settles;
      }
      std::set<uint32_t> attempts;
      uint32_t previous = 0;
      for (size_t i = 0; i < list.size(); ++i) {
        const DeliveryEvent& d = *list[i];
        ++f.deliveries;
        if (i > 0) ++f.redeliveries;
        f.max_attempt_seen = std::max<uint64_t>(f.max_attempt_seen, d.attempt);
        if (d.attempt == 0 || d.attempt > kMaxDeliveries) {
          Violation(group + ": " + id + " delivered with attempt " + std::to_string(d.attempt));
        }
        if (!attempts.insert(d.attempt).second) {
          Violation(group + ": " + id + " delivered twice with attempt " +
                    std::to_string(d.attempt) + ": the attempt count was reset");
        } else if (d.attempt < previous) {
          Violation(group + ": " + id + " delivered with attempt " + std::to_string(d.attempt) +
                    " after attempt " + std::to_string(previous) + ": attempts went down");
        }
        previous = std::max(previous, d.attempt);
        if (i > 0) CheckRedelivery(group, id, *list[i - 1], d, settles, f);
      }
      max_attempt_[key] = previous;
    }
  }

  // `next` follows `prev` for the same message in the same group.
  void CheckRedelivery(const std::string& group, const std::string& id, const DeliveryEvent& prev,
                       const DeliveryEvent& next, const std::vector<const SettleEvent*>& settles,
                       GroupFigures& f) {
    // An ack answered OK before this delivery: at-least-once allows the duplicate only if brokerd
    // was killed soon after the ack (before the batched ack was persisted).
    const SettleEvent* acked = nullptr;
    const SettleEvent* settled_prev = nullptr;
    for (const SettleEvent* s : settles) {
      if (s->kind == SettleKind::kAck && s->code == StatusCode::kOk && s->answered <= next.at) {
        acked = s;
      }
      if (s->attempt == prev.attempt && s->started <= next.at) settled_prev = s;
    }
    if (acked != nullptr) {
      ++f.redelivered_after_ack;
      auto kill = KillBetween(acked->started, next.at);
      if (kill && *kill > acked->answered) {
        f.longest_undone_ack = std::max(
            f.longest_undone_ack,
            std::chrono::duration_cast<std::chrono::milliseconds>(*kill - acked->answered));
      }
      if (!kill) {
        Violation(group + ": " + id + " redelivered (attempt " + std::to_string(next.attempt) +
                  ") after an ack that returned OK, with no kill in between");
      } else if (*kill - acked->answered > kAckMargin) {
        Violation(group + ": " + id + " redelivered after an ack that returned OK " +
                  std::to_string(
                      std::chrono::duration_cast<std::chrono::milliseconds>(*kill - acked->answered)
                          .count()) +
                  " ms before the kill: the ack was not persisted");
      }
    }
    // Leased to two consumers at once: redelivered well within the lease, without a settle of
    // the previous delivery and without a kill in between. The kill may come before `prev` was
    // observed: a delivery can wait in the client (gRPC buffers, the consumer's queue) while
    // brokerd is killed, and a restarted brokerd expires the old process's leases at once. A
    // lease granted more than kAckTimeout before it was observed would have expired anyway, so
    // kills from kAckTimeout before `prev` on count.
    if (settled_prev == nullptr && !KillBetween(prev.at - kAckTimeout, next.at) &&
        next.at - prev.at < kAckTimeout / 2) {
      Violation(group + ": " + id + " delivered to " + prev.member + " (attempt " +
                std::to_string(prev.attempt) + ") and again to " + next.member + " (attempt " +
                std::to_string(next.attempt) + ") " + Ms(next.at - prev.at) +
                " ms later, without a settle, a kill or lease expiry in between (last kill " +
                LastKillBefore(prev.at) + " before the first delivery)");
    }
  }

  static std::string Ms(std::chrono::steady_clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  }

  std::string LastKillBefore(SteadyTime t) const {
    auto it = std::upper_bound(kills_.begin(), kills_.end(), t);
    if (it == kills_.begin()) return "never";
    return Ms(t - *std::prev(it)) + " ms";
  }

  Broker& broker_;
  const std::map<std::string, PublishRecord> publishes_;
  const std::vector<DeliveryEvent> deliveries_;
  const std::vector<SettleEvent> settles_;
  std::vector<SteadyTime> kills_;
  std::map<GroupId, std::vector<const SettleEvent*>> settles_by_message_;
  std::map<Position, std::string> acknowledged_at_;
  std::map<std::string, Position> position_of_;  // from the log
  std::map<Position, std::string> id_at_;        // from the log
  std::map<GroupId, uint32_t> max_attempt_;
  TortureFigures figures_;
};

}  // namespace

TortureFigures CheckTorture(Broker& broker, const TortureHistory& history) {
  return Checker(broker, history).Run();
}

std::string FormatFigures(const TortureFigures& f) {
  std::ostringstream out;
  out << "publishes: " << f.acknowledged << " acknowledged, " << f.publish_calls
      << " message-calls (" << f.failed_calls << " failed while brokerd was down), "
      << f.dedupe_answers << " acknowledged by the dedupe window on retry\n";
  out << "log: " << f.log_records << " records, " << f.in_log_unacknowledged
      << " in the log without an acknowledgement, losses " << f.lost << "\n";
  for (const auto& [name, g] : f.groups) {
    out << "group " << name << ": " << g.deliveries << " deliveries, " << g.redeliveries
        << " redeliveries, max attempt seen " << g.max_attempt_seen << "; ends: " << g.acked
        << " acked, " << g.dead_max_deliveries << " dead for max_deliveries (" << g.dead_poison
        << " poison, " << g.dead_normal << " others that crashes cost leases), " << g.dead_rejected
        << " rejected; duplicates after an OK ack (kill within " << kAckMargin.count()
        << " ms): " << g.redelivered_after_ack << " (longest ack-to-kill gap "
        << g.longest_undone_ack.count() << " ms); settles that failed: " << g.failed_settles
        << "\n";
  }
  out << "violations: " << f.violations.size() << "\n";
  return out.str();
}

}  // namespace broker::torture
