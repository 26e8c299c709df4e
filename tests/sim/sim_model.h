// SimModel: what the simulation knows the broker promised, and the invariants checked against
// it. It is not a prediction of every state (tests/unit/delivery/group_model.h is, for runs
// without faults): once writes fail and power goes out, several outcomes are allowed, so the
// model keeps, per message, only what no allowed outcome may contradict:
//   I1 a publish answered OK with sync durability (a sync duplicate included) survives power loss;
//      nothing answered OK is lost by a clean close;
//   I2 a message whose AckPersisted was answered OK is never delivered again (sync brokers: not
//      even after a power loss);
//   I3 at the end of a run every published message is acked (and then an ack of it was answered
//      OK at some point: nothing is settled without being handled), dead or expired by retention
//      (GetMessageState), lag is zero, and each dead message has exactly one dead letter;
//   I4 a message's delivery attempt never goes down (it goes up by at least one per delivery, or
//      stays after a release) and never passes max_deliveries;
//   I5 at most one live lease per message (a delivery while another lease on it has not expired
//      is a violation), and a settle of a live lease by its holder is accepted;
//   I6 offsets are dense: each publish lands at the partition's end, the log reads back without
//      holes, every record holds what was published at its offset; only a power loss may take
//      back (async) offsets, which are then assigned again;
//   I7 a message acked or rejected (answered OK) is not delivered again by the same broker
//      lifetime, nor after a clean close when no write had failed;
//   I9 a nacked message, or one whose lease expired, is not delivered again before its delay (the
//      nack's, or the group's backoff at its lowest jitter) has passed;
//   I8 lag adds up: unsettled = backlog + in_flight + delayed, end offsets match the log, and
//      in_flight counts at least the live leases the simulation holds, and the state view shows
//      each of them leased to its holder.
// Violations are collected as text; the driver stops at the first step that found one.
//
// Thread safety: none; one simulation thread drives it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/broker.h"
#include "broker/delivery.h"
#include "broker/types.h"

namespace broker::sim {

using Position = std::pair<uint32_t, uint64_t>;  // partition, offset

class SimModel {
 public:
  SimModel(std::string topic, std::string group, uint32_t partitions, GroupConfig config,
           bool sync_broker);

  // ---- What the simulation did and what the broker answered ----
  // A publish answered OK (or a duplicate) at `at`.
  void Published(const PublishResult& pos, const Message& message, bool sync, TimePoint at);
  // A publish that failed: its record may still turn up after a restart (its write may have
  // reached the log before the error), at the offset the partition ended at.
  void PublishFailed(const Message& message);
  void Delivered(const Delivery& d, const std::string& member, TimePoint now);
  // The outcome of a settle by `member` of its lease on `pos` taken at `attempt`.
  enum class Settle { kAck, kAckPersisted, kNack, kExtend, kReject, kRelease };
  // `delay`: a nack's explicit delay.
  void Settled(Settle kind, const Position& pos, const std::string& member, uint32_t attempt,
               const Status& status, std::optional<TimePoint> new_expiry, TimePoint now,
               std::optional<std::chrono::milliseconds> delay = std::nullopt);
  void MemberLeft(const std::string& member);
  // A retention pass of a topic with `age` ran at `now`: checks what it deleted.
  void RetentionRan(Broker& broker, TimePoint now, std::chrono::milliseconds age);
  // Writes have failed since the broker opened (an injected fault): the next clean close may
  // lose what it had to write.
  void WritesFailed() { writes_failed_ = true; }

  // ---- Checks against the broker ----
  // After the broker opened again: `power_lost` says whether unsynced writes were dropped.
  void Reopened(Broker& broker, bool power_lost);
  // Lag and topic bounds (I8), after any step.
  void CheckLag(Broker& broker, TimePoint now);
  // The end state (I3), after the simulation drained the group.
  void CheckDrained(Broker& broker);

  // Leases the simulation holds (member, position, attempt), for choosing what to settle.
  struct Lease {
    std::string member;
    Position pos;
    uint32_t attempt;
    TimePoint expires;
  };
  std::vector<Lease> Leases() const;
  // Idempotency keys used so far, for retries.
  const std::vector<std::string>& idempotency_keys() const { return idempotency_order_; }
  bool unsettled_remaining(Broker& broker);

  const std::vector<std::string>& violations() const { return violations_; }
  void Violation(std::string text) { violations_.push_back(std::move(text)); }

  struct Stats {
    uint64_t published = 0, lost_async = 0, phantoms = 0, deliveries = 0, redeliveries = 0,
             persisted_acks = 0, retention_deleted = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Msg {
    std::string payload;
    std::optional<std::string> key;
    TimePoint published_at;
    bool durable = false;          // answered OK for a sync publish (or sync duplicate)
    bool persisted_ack = false;    // AckPersisted answered OK
    bool settled_in_life = false;  // acked or rejected (answered OK) since the broker opened
    bool handled = false;          // an ack of it was answered OK at least once, ever
    uint32_t last_attempt = 0;     // highest delivery attempt seen
    bool released = false;         // the last lease ended in a release
    bool deleted = false;          // below the partition's first offset (retention)
    TimePoint not_before;          // no delivery before (a nack's delay, a backoff)
    std::string holder;            // member holding a lease the simulation knows of
    uint32_t lease_attempt = 0;
    TimePoint lease_expires;
  };
  struct Partition {
    std::vector<Msg> log;  // offset -> message
    uint64_t first = 0;    // first retained offset
  };

  Msg* Find(const Position& pos);
  // The shortest backoff after the `attempt`-th delivery failed (jitter at its lowest).
  std::chrono::microseconds MinBackoff(uint32_t attempt) const;
  // The message's lease ran out (the broker's timers count it as a nack).
  void LeaseRanOut(Msg& m);
  std::string Where(const Position& pos) const;
  void ReconcileLog(Broker& broker, bool power_lost);
  // The partition's first retained offset is now `first`: only records old enough may be gone.
  void Trimmed(uint32_t p, uint64_t first);

  const std::string topic_;
  const std::string group_;
  const GroupConfig config_;
  const bool sync_broker_;
  std::vector<Partition> partitions_;
  std::map<std::string, Position> idempotency_;  // key -> position of its first publish
  std::vector<std::string> idempotency_order_;
  // Payloads of failed publishes (-> their idempotency key): such a record may turn up later.
  std::map<std::string, std::string> failed_;
  TimePoint retention_cutoff_{};  // newest publish time retention may delete
  bool writes_failed_ = false;
  std::vector<std::string> violations_;
  Stats stats_;
};

}  // namespace broker::sim
