// The deterministic workload of the crash torture: what each message is (derived from its id, so
// the checker can regenerate its exact bytes) and what a consumer does with each delivery
// (derived from the run's seed, the group, the id and the attempt, so a failing run can be
// replayed with the same seed).
//
// Thread safety: pure functions and constants.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/broker.h"

namespace broker::torture {

inline constexpr std::string_view kTopic = "torture.orders";
inline constexpr uint32_t kPartitions = 3;
inline constexpr std::string_view kIdHeader = "torture.id";
inline constexpr std::string_view kClassHeader = "torture.class";

// The consumer groups and their settings. Small ack_timeout and backoff so that dropped and failed
// messages come back (and poison messages reach the DLQ) within a round.
struct GroupSpec {
  std::string_view name;
  Ordering ordering;
  int consumers;  // separate clients, each one member
};
inline constexpr GroupSpec kGroups[] = {
    {"billing", Ordering::kNone, 2},
    {"audit", Ordering::kPerKey, 1},
};
inline constexpr uint32_t kMaxDeliveries = 4;
inline constexpr auto kAckTimeout = std::chrono::milliseconds(1000);
// Handler threads per consumer. Equal to max_in_flight, so a delivery is handed to a handler as
// soon as it arrives and the order handlers see deliveries in is the order they arrived in.
inline constexpr uint32_t kConsumerConcurrency = 16;

GroupConfig TortureGroupConfig(Ordering ordering);

// What a message is for: a normal one is acked eventually; a poison one always fails (nack) and
// must end in the DLQ with reason max_deliveries; a rejected one is dead-lettered at once.
enum class MessageClass { kNormal, kPoison, kRejected };
std::string_view ClassName(MessageClass c);

// Publisher `publisher`'s message number `seq`: "p<publisher>-<seq>".
std::string MessageIdFor(int publisher, uint64_t seq);
MessageClass ClassOf(std::string_view id);
// The full message, idempotency key included (the id). Deterministic.
Message MakeMessage(std::string_view id);

// What a handler does with one delivery.
enum class Action {
  kAck,
  kNack,    // transient failure: the handler throws
  kDrop,    // returns without settling: the lease expires after kAckTimeout
  kReject,  // dead-letter now
  kPoison,  // the handler throws, always
};
Action ActionFor(uint64_t seed, std::string_view group, std::string_view id, uint32_t attempt);

uint64_t Mix(uint64_t x);
uint64_t Hash(std::string_view s);

}  // namespace broker::torture
