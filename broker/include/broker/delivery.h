// Consumer groups: types of the delivery API (Broker::Subscribe, groups, lag, dead letters).
//
// A consumer group is a named subscription to one topic. Each message is delivered to one member
// of the group; different groups each get every message. Within a group a message moves
//   available -> leased -> acked
//   leased -> delayed -> available      (nack, lease expiry, a member leaving)
//   leased/delayed -> dead              (reject, or max_deliveries reached: dead-letter topic)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "broker/status.h"
#include "broker/types.h"

namespace broker {

enum class StartPosition {
  kEarliest,  // everything retained (default, as JetStream)
  kLatest,    // only what is published after the group is created
};

enum class Ordering {
  kNone,          // competing consumers: any member gets any message (default)
  kPerKey,        // a key's next message waits while an earlier one of that key is unsettled
  kPerPartition,  // one member owns a partition at a time (Kafka-style)
};

// Redelivery delay after the n-th failed attempt (n >= 1):
//   min(max, initial * multiplier^(n-1)) * (1 + jitter * u), u uniform in [-1, 1], capped at max.
// A nack's error text or a reject's reason: kept in the message's group record (every later
// delivery rewrites it) and in its dead letter's `dlq.last_error` header. Longer text is cut to
// this many bytes (at a UTF-8 character boundary), not refused: the nack or reject still happens.
inline constexpr size_t kMaxSettleTextBytes = 4096;

struct BackoffPolicy {
  std::chrono::milliseconds initial = std::chrono::seconds(1);  // default 1 s
  double multiplier = 2.0;                                      // default x2
  std::chrono::milliseconds max = std::chrono::minutes(5);      // default 5 min
  double jitter = 0.2;  // default +-20%; 0 gives exact delays
};

// Fixed when the group is created (by CreateGroup or the first Subscribe).
struct GroupConfig {
  StartPosition start = StartPosition::kEarliest;
  Ordering ordering = Ordering::kNone;
  // A lease not acked, nacked, extended or rejected within this time expires and counts as a nack.
  // Default 30 s.
  std::chrono::milliseconds ack_timeout = std::chrono::seconds(30);
  // Deliveries before a message is dead-lettered with reason "max_deliveries". Default 5.
  uint32_t max_deliveries = 5;
  BackoffPolicy backoff;
  // The group answers requests (client::Client::Serve sets it). A message with a
  // kRequestDeadlineHeader that has passed when the group would lease it is settled without
  // being delivered (nobody waits for its answer any more) and counted in
  // DeliveryCounters::expired_requests. A topic that subscribing such a group auto-creates gets
  // Options::request_topic_config. Default false.
  bool serves_requests = false;
};

// Request-reply: the header holding a request's absolute deadline, in microseconds since the Unix
// epoch (decimal), as client::Client::Request writes it.
inline constexpr std::string_view kRequestDeadlineHeader = "deadline";

struct SubscribeOptions {
  // Member name, unique within the group while subscribed. Empty: the broker makes one up.
  std::string member;
  // Most messages leased to this member at once; delayed messages do not count. Default 256.
  uint32_t max_in_flight = 256;
  // Used only if the group does not exist yet.
  GroupConfig group;
};

// One leased message handed to a member.
struct Delivery {
  Record record;
  uint32_t attempt = 0;        // 1 on first delivery
  TimePoint lease_expires_at;  // ack, nack, extend or reject before this
  // How long the lease (and each extension) lasts: the group's ack_timeout. Lets a client that
  // keeps leases alive time its extensions on its own clock, whatever the broker's clock says.
  // 0 if the transport does not say (then lease_expires_at - now is the best guess).
  std::chrono::milliseconds lease_duration{0};
};

// One lease of a member: the message and the delivery attempt it was leased for.
struct LeaseRef {
  PartitionId partition;
  Offset offset;
  uint32_t attempt = 0;
};

// A member of a group. Destroying it leaves the group: its leases go back to the group at once.
//
// Thread safety: all methods may be called from any thread.
class Subscription {
 public:
  virtual ~Subscription() = default;

  virtual const std::string& member() const = 0;

  // Leases up to `max` messages (bounded by max_in_flight minus what this member holds), waiting
  // up to `timeout` for one to become available; new publishes, nacks coming due and acks wake it
  // without polling. An empty vector means the timeout passed.
  virtual Result<std::vector<Delivery>> Poll(size_t max, std::chrono::milliseconds timeout) = 0;

  // Called (from a broker thread, must not block or call Poll) when messages may have become
  // available to this member. For event-driven transports; Poll's waiting does not need it.
  virtual void SetReadyCallback(std::function<void()> ready) = 0;

  // Settle a message leased to this member. kFailedPrecondition if it is not leased to this member
  // (never delivered, already settled, lease expired, or leased to another member).
  virtual Status Ack(PartitionId partition, Offset offset) = 0;
  // Ack without waiting for the outcome: `done` runs exactly once with what Ack would have
  // returned, possibly on another thread and possibly before AckAsync returns; it must not block.
  // Transports across a network pipeline these (gRPC sends the acks of many messages in one
  // frame); the default acks synchronously.
  virtual void AckAsync(PartitionId partition, Offset offset, std::function<void(Status)> done) {
    done(Ack(partition, offset));
  }
  // Redeliver after `delay`, or after the group's backoff if none is given. `error` is kept as the
  // message's last error (shown in dead letters), cut to kMaxSettleTextBytes.
  virtual Status Nack(PartitionId partition, Offset offset,
                      std::optional<std::chrono::milliseconds> delay = std::nullopt,
                      std::string error = "") = 0;
  // Renews the lease for another ack_timeout; returns the new expiry.
  virtual Result<TimePoint> Extend(PartitionId partition, Offset offset) = 0;
  // Dead-letters the message at once with reason "rejected"; `reason` becomes its last error (the
  // dead letter's dlq.last_error header), cut to kMaxSettleTextBytes.
  virtual Status Reject(PartitionId partition, Offset offset, std::string reason) = 0;

  // The settles above act on whichever lease of the message this member holds. These act only on
  // the lease of one delivery, `attempt` being its Delivery::attempt: kFailedPrecondition once
  // that lease has ended, even if the message was leased to this member again since, so a settle
  // that arrives after its lease expired cannot settle the redelivery. A transport that cannot
  // check the attempt keeps these defaults, which act as the calls above.
  virtual Status AckAttempt(PartitionId partition, Offset offset, uint32_t attempt) {
    (void)attempt;
    return Ack(partition, offset);
  }
  virtual void AckAttemptAsync(PartitionId partition, Offset offset, uint32_t attempt,
                               std::function<void(Status)> done) {
    (void)attempt;
    AckAsync(partition, offset, std::move(done));
  }
  virtual Status NackAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                             std::optional<std::chrono::milliseconds> delay, std::string error) {
    (void)attempt;
    return Nack(partition, offset, delay, std::move(error));
  }
  virtual Result<TimePoint> ExtendAttempt(PartitionId partition, Offset offset,
                                          uint32_t attempt) {
    (void)attempt;
    return Extend(partition, offset);
  }
  virtual Status RejectAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                               std::string reason) {
    (void)attempt;
    return Reject(partition, offset, std::move(reason));
  }

  // Gives a leased message back to the group untouched: it becomes available at once and the
  // attempt its lease counted is taken back, so the next delivery has the same attempt number and
  // no error is recorded. For messages this member leased but never handed to a handler (queued
  // when the consumer closed); a message a handler saw is acked, nacked or rejected instead. A
  // crash before the release keeps the attempt counted (it was written with the lease).
  // kFailedPrecondition as for the settles above. The default (a transport whose broker cannot
  // restore the count) nacks with no delay.
  virtual Status ReleaseAttempt(PartitionId partition, Offset offset, uint32_t attempt) {
    return NackAttempt(partition, offset, attempt, std::chrono::milliseconds(0),
                       "released unhandled");
  }

  // Batched forms, for a client that keeps many leases alive: one result per lease, in order,
  // each on its own (one failing does not stop the others). Transports across a network send a
  // batch in one frame; the defaults call ExtendAttempt / ReleaseAttempt for each.
  virtual std::vector<Result<TimePoint>> ExtendAttempts(const std::vector<LeaseRef>& leases) {
    std::vector<Result<TimePoint>> out;
    out.reserve(leases.size());
    for (const LeaseRef& l : leases) out.push_back(ExtendAttempt(l.partition, l.offset, l.attempt));
    return out;
  }
  virtual std::vector<Status> ReleaseAttempts(const std::vector<LeaseRef>& leases) {
    std::vector<Status> out;
    out.reserve(leases.size());
    for (const LeaseRef& l : leases) {
      out.push_back(ReleaseAttempt(l.partition, l.offset, l.attempt));
    }
    return out;
  }

  // A double ack (JetStream's AckSync): acks as AckAttempt does (`attempt` 0: whichever lease this
  // member holds) and returns only once the ack is persisted with the broker's durability, so a
  // message acked this way is never redelivered, not even after a crash. Ack answers before its
  // batched write (Options::ack_flush_interval); this costs a group write of its own, shared with
  // whatever else is pending. If the write fails the ack still stands in memory and is written
  // again with the group's next write, but the call returns the error: until then a crash may
  // redeliver the message. Transports that cannot confirm persistence return kUnimplemented.
  virtual Status AckPersisted(PartitionId partition, Offset offset, uint32_t attempt) {
    (void)partition, (void)offset, (void)attempt;
    return Status(StatusCode::kUnimplemented,
                  "this transport cannot confirm that an ack is persisted; use Ack");
  }
};

struct PartitionLag {
  PartitionId partition;
  Offset end_offset;  // the partition's next offset
  Offset ack_floor;   // every offset below is settled (acked, dead or expired)
  uint64_t backlog = 0;    // never delivered
  uint64_t in_flight = 0;  // leased
  // Waiting for redelivery (nacked, expired lease, redriven from the dead letters; due or not).
  uint64_t delayed = 0;
  uint64_t unsettled = 0;  // backlog + in_flight + delayed
  // Age of the oldest unsettled message (now - its publish time); zero when nothing is unsettled.
  std::chrono::microseconds oldest_unsettled_age{0};
  uint64_t expired = 0;  // unsettled messages deleted by retention before being settled
};

// What one group did since the broker opened. In memory only: every counter starts at 0 when the
// broker opens (as Prometheus counters do when a process restarts).
struct DeliveryCounters {
  uint64_t delivered = 0;      // leases granted: first deliveries and redeliveries
  uint64_t redelivered = 0;    // of those, deliveries after the first attempt
  uint64_t acked = 0;          // acks accepted
  uint64_t nacked = 0;         // nacks accepted
  uint64_t lease_expired = 0;  // leases that ran out before a settle (each counts as a nack)
  uint64_t rejected = 0;       // rejects accepted (each dead-letters its message)
  uint64_t dead_lettered = 0;  // messages appended to the dead-letter topic, for any reason
  // serves_requests groups: requests past their deadline settled without being delivered
  uint64_t expired_requests = 0;
};

struct MemberInfo {
  std::string name;
  uint32_t max_in_flight = 0;
  uint64_t leased = 0;
  std::vector<PartitionId> owned_partitions;  // per_partition ordering only
  // A Poll of this member is waiting for messages right now (idle; a new record may be handed to
  // it in the commit that appends it).
  bool waiting = false;
};

struct GroupInfo {
  std::string topic;
  std::string group;
  GroupConfig config;
  TimePoint created_at;
  std::string dlq_topic;
  std::vector<MemberInfo> members;
  std::vector<PartitionLag> partitions;
  // Sums over the partitions, end_offset and ack_floor included (so end_offset - ack_floor spans
  // every partition); oldest age is the maximum; partition unset (0).
  PartitionLag total;
  uint64_t dlq_depth = 0;  // dead letters of this group not yet redriven or purged
  std::chrono::microseconds dlq_oldest_age{0};
  DeliveryCounters counters;
};

enum class MessageStatus { kPending, kAvailable, kLeased, kDelayed, kAcked, kDead, kExpired };
std::string_view MessageStatusName(MessageStatus status);

// The state of one message in one group.
struct MessageGroupState {
  std::string group;
  MessageStatus status = MessageStatus::kPending;
  uint32_t attempts = 0;
  std::string leased_by;       // kLeased
  TimePoint lease_expires_at;  // kLeased
  TimePoint delayed_until;     // kDelayed
  std::string last_error;
};

struct DeadLetter {
  Record record;  // as stored in the dead-letter topic, dlq.* headers included
  PartitionId original_partition;
  Offset original_offset;
  std::string reason;  // "max_deliveries", "rejected", ...
  std::string last_error;
  uint32_t attempts = 0;
  TimePoint dead_at;
};

// Which dead letters to redrive or purge. Empty fields match everything.
struct DeadLetterFilter {
  std::string reason;          // exact match
  std::string error_contains;  // substring of last_error
  // Only letters dead for at least this long (now - dead_at >= older_than).
  std::chrono::milliseconds older_than{0};
  size_t limit = 0;  // 0 = no limit
};

struct RedriveOptions {
  DeadLetterFilter filter;
  bool dry_run = false;  // count what would move; change nothing
  // Messages per second: redriven messages become due one after another at this rate rather than
  // all at once. 0 = all at once.
  double rate_per_second = 0;
};

// Where Broker::ResetGroup moves a group's position: in every partition, or in `partition` alone.
struct ResetPosition {
  enum class Kind {
    kEarliest,  // the first retained record
    kLatest,    // the end: only what is published from now on
    kOffset,    // `offset` (clamped to the retained range)
    kTime,      // the first record published at or after `time`
  };
  Kind kind = Kind::kEarliest;
  uint64_t offset = 0;
  TimePoint time;
  // Only this partition moves; the others keep their position and their unsettled state (Kafka's
  // OffsetCommit commits one partition at a time). Unset (default): every partition.
  std::optional<PartitionId> partition;
};

struct RedriveResult {
  uint64_t matched = 0;    // letters that matched the filter
  uint64_t redriven = 0;   // requeued to the group (0 on a dry run)
  uint64_t missing = 0;    // original already deleted by retention: left in the DLQ
};

}  // namespace broker
