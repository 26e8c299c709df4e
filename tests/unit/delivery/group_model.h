// GroupModel: a brute-force reference model of one consumer group, for the randomized tests.
//
// The test applies every operation to the broker and to the model; the model predicts what the
// broker may do (which deliveries are allowed, with which attempt number) and what it must report
// (per-message state, lag, dead letters). It keeps one plain record per message and recomputes
// every figure by scanning all of them: slow, obviously right.
//
// Timing follows the broker's documented rules: leases expire and delays fall due when the
// broker processes its timers at time `now` (Poll and RunDeliveryTimers), an expiry or nack past
// max_deliveries dead-letters, backoff is exact (the test uses jitter 0).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "delivery_test_util.h"

namespace broker::testing {

class GroupModel {
 public:
  enum class State { kAvailable, kLeased, kDelayed, kAcked, kDead };
  using Position = std::pair<uint32_t, uint64_t>;

  struct Message {
    Position pos;
    std::optional<std::string> key;
    TimePoint published;
    State state = State::kAvailable;
    uint32_t attempts = 0;
    bool ever_delivered = false;
    std::string holder;  // kLeased
    TimePoint lease_expires;
    TimePoint due;            // kDelayed
    std::string last_error;   // "*" when the broker picks the text (expiry, member left)
    bool purged = false;      // kDead, and its dead letter was purged
  };

  GroupModel(GroupConfig config, uint32_t partitions)
      : config_(std::move(config)), ends_(partitions, 0) {}

  static Position PositionOf(const Record& r) { return {r.partition.value(), r.offset.value()}; }
  static Position PositionOf(const PublishResult& r) {
    return {r.partition.value(), r.offset.value()};
  }

  void Published(const PublishResult& pos, std::optional<std::string> key, TimePoint at) {
    Message m;
    m.pos = PositionOf(pos);
    m.key = std::move(key);
    m.published = at;
    EXPECT_EQ(pos.offset.value(), ends_.at(pos.partition.value())) << "offsets must be dense";
    ends_[pos.partition.value()] = pos.offset.value() + 1;
    messages_.emplace(m.pos, std::move(m));
  }

  // What the broker does when it processes its timers at `now`.
  void ProcessDue(TimePoint now) {
    for (auto& [pos, m] : messages_) {
      if (m.state == State::kLeased && m.lease_expires <= now) {
        if (m.last_error.empty()) m.last_error = "*";
        Fail(m, NominalBackoff(config_.backoff, m.attempts), now);
      }
    }
    for (auto& [pos, m] : messages_) {
      if (m.state == State::kDelayed && m.due <= now) m.state = State::kAvailable;
    }
  }

  // Checks that the broker was allowed to hand out `d` to `member` at `now`, and records it.
  void Delivered(const Delivery& d, const std::string& member, TimePoint now) {
    const Position pos = PositionOf(d.record);
    auto it = messages_.find(pos);
    ASSERT_NE(it, messages_.end()) << Describe(pos) << " was never published";
    Message& m = it->second;
    EXPECT_EQ(m.state, State::kAvailable)
        << Describe(pos) << " delivered while " << StateName(m.state)
        << (m.state == State::kDelayed ? " until " + std::to_string((m.due - now).count()) + "us"
                                       : "");
    EXPECT_EQ(d.attempt, m.attempts + 1) << Describe(pos);
    EXPECT_EQ(d.lease_expires_at, now + config_.ack_timeout) << Describe(pos);
    EXPECT_EQ(d.record.key, m.key) << Describe(pos);
    if (config_.ordering == Ordering::kPerKey && m.key) {
      for (const auto& [other_pos, other] : messages_) {
        if (other_pos == pos || other.key != m.key) continue;
        EXPECT_FALSE(other.state == State::kLeased)
            << "key '" << *m.key << "': " << Describe(pos) << " delivered while "
            << Describe(other_pos) << " is leased";
        if (other_pos < pos) {
          EXPECT_TRUE(Settled(other))
              << "key '" << *m.key << "': " << Describe(pos) << " delivered while the earlier "
              << Describe(other_pos) << " is " << StateName(other.state);
        }
      }
      if (!m.ever_delivered) {
        auto [last, inserted] = first_delivered_.emplace(*m.key, pos);
        if (!inserted) {
          EXPECT_LT(last->second, pos) << "key '" << *m.key << "': first deliveries out of order";
          last->second = pos;
        }
      }
    }
    m.state = State::kLeased;
    m.attempts = d.attempt;
    m.holder = member;
    m.lease_expires = now + config_.ack_timeout;
    m.ever_delivered = true;
  }

  void Acked(const Position& pos) { at(pos).state = State::kAcked; }

  void Nacked(const Position& pos, std::optional<std::chrono::milliseconds> delay,
              const std::string& error, TimePoint now) {
    Message& m = at(pos);
    m.last_error = error.empty() ? "nacked" : error;
    Fail(m, delay ? std::chrono::duration_cast<microseconds>(*delay)
                  : NominalBackoff(config_.backoff, m.attempts),
         now);
  }

  void Extended(const Position& pos, TimePoint now) {
    at(pos).lease_expires = now + config_.ack_timeout;
  }

  void Rejected(const Position& pos, const std::string& reason) {
    Message& m = at(pos);
    m.last_error = reason.empty() ? "rejected" : reason;
    Die(m);
  }

  // A member left: its leases go back at once.
  void Left(const std::string& member, TimePoint now) {
    for (auto& [pos, m] : messages_) {
      if (m.state == State::kLeased && m.holder == member) {
        if (m.last_error.empty()) m.last_error = "*";
        Fail(m, microseconds(0), now);
      }
    }
  }

  // Redrive of every dead letter, all due at once. Returns how many moved.
  uint64_t RedriveAll() {
    uint64_t moved = 0;
    for (const Position& pos : dlq_) {
      Message& m = at(pos);
      m.state = State::kAvailable;
      m.attempts = 0;
      m.last_error.clear();
      ++moved;
    }
    dlq_.clear();
    return moved;
  }
  uint64_t PurgeAll() {
    const uint64_t purged = dlq_.size();
    for (const Position& pos : dlq_) at(pos).purged = true;
    dlq_.clear();
    return purged;
  }

  // Lag of one partition, counted by brute force.
  PartitionLag Lag(uint32_t partition, TimePoint now) const {
    PartitionLag lag;
    lag.partition = PartitionId(partition);
    lag.end_offset = Offset(ends_.at(partition));
    lag.ack_floor = lag.end_offset;
    std::optional<TimePoint> oldest;
    for (const auto& [pos, m] : messages_) {
      if (pos.first != partition || Settled(m)) continue;
      if (Offset(pos.second) < lag.ack_floor) lag.ack_floor = Offset(pos.second);
      if (!oldest || m.published < *oldest) oldest = m.published;
      if (m.state == State::kLeased) {
        ++lag.in_flight;
      } else if (m.state == State::kDelayed || m.attempts > 0 || m.ever_delivered) {
        ++lag.delayed;  // a redriven message (attempts 0 again) was delivered before: not backlog
      } else {
        ++lag.backlog;
      }
      ++lag.unsettled;
    }
    if (oldest) lag.oldest_unsettled_age = now - *oldest;
    return lag;
  }

  Message& at(const Position& pos) { return messages_.at(pos); }
  const std::map<Position, Message>& messages() const { return messages_; }
  const std::set<Position>& dlq() const { return dlq_; }
  uint64_t dead_lettered() const { return dead_lettered_; }

  std::vector<Position> LeasedBy(const std::string& member) const {
    std::vector<Position> out;
    for (const auto& [pos, m] : messages_) {
      if (m.state == State::kLeased && m.holder == member) out.push_back(pos);
    }
    return out;
  }
  bool AllSettled() const {
    for (const auto& [pos, m] : messages_) {
      if (!Settled(m)) return false;
    }
    return true;
  }

  // Compares the broker's view of every message with the model's.
  void ExpectStatesMatch(Broker& broker, std::string_view topic, std::string_view group) const {
    for (const auto& [pos, m] : messages_) {
      // What the view says of a purged dead letter is checked by MessageStateTest; here it
      // would only repeat that failure.
      if (m.purged) continue;
      SCOPED_TRACE(Describe(pos));
      auto states = Must(broker.GetMessageState(topic, PartitionId(pos.first), Offset(pos.second)));
      const MessageGroupState* s = nullptr;
      for (const MessageGroupState& state : states) {
        if (state.group == group) s = &state;
      }
      ASSERT_NE(s, nullptr);
      switch (m.state) {
        case State::kAvailable:
          if (m.attempts == 0) {
            EXPECT_TRUE(s->status == MessageStatus::kPending ||
                        s->status == MessageStatus::kAvailable)
                << MessageStatusName(s->status);
          } else {
            EXPECT_EQ(s->status, MessageStatus::kAvailable);
          }
          break;
        case State::kLeased:
          EXPECT_EQ(s->status, MessageStatus::kLeased);
          EXPECT_EQ(s->leased_by, m.holder);
          EXPECT_EQ(s->lease_expires_at, m.lease_expires);
          break;
        case State::kDelayed:
          EXPECT_EQ(s->status, MessageStatus::kDelayed);
          EXPECT_EQ(s->delayed_until, m.due);
          break;
        case State::kAcked:
          EXPECT_EQ(s->status, MessageStatus::kAcked);
          break;
        case State::kDead:
          EXPECT_EQ(s->status, MessageStatus::kDead);
          break;
      }
      if (m.state != State::kAcked) {
        EXPECT_EQ(s->attempts, m.attempts);
        if (m.last_error == "*") {
          EXPECT_FALSE(s->last_error.empty());
        } else {
          EXPECT_EQ(s->last_error, m.last_error);
        }
      }
    }
  }

  static std::string Describe(const Position& pos) {
    return "partition " + std::to_string(pos.first) + " offset " + std::to_string(pos.second);
  }
  static const char* StateName(State s) {
    switch (s) {
      case State::kAvailable: return "available";
      case State::kLeased: return "leased";
      case State::kDelayed: return "delayed";
      case State::kAcked: return "acked";
      case State::kDead: return "dead";
    }
    return "?";
  }
  static bool Settled(const Message& m) {
    return m.state == State::kAcked || m.state == State::kDead;
  }

 private:
  void Fail(Message& m, microseconds delay, TimePoint now) {
    m.holder.clear();
    if (m.attempts >= config_.max_deliveries) {
      Die(m);
    } else if (delay.count() <= 0) {
      m.state = State::kAvailable;
    } else {
      m.state = State::kDelayed;
      m.due = now + delay;
    }
  }
  void Die(Message& m) {
    m.state = State::kDead;
    m.purged = false;
    m.holder.clear();
    dlq_.insert(m.pos);
    ++dead_lettered_;
  }

  const GroupConfig config_;
  std::vector<uint64_t> ends_;                    // per partition: next offset
  std::map<Position, Message> messages_;
  std::map<std::string, Position> first_delivered_;  // key -> last first-delivered position
  std::set<Position> dlq_;                         // dead letters not redriven or purged
  uint64_t dead_lettered_ = 0;
};

}  // namespace broker::testing
