// The checker of the crash torture. After brokerd has stopped, it opens the data directory with the
// embedded engine and compares what is stored with what the clients observed (TortureHistory):
//
//   log        every acknowledged publish is in the log at its acknowledged (partition, offset)
//              with the same key, payload and headers; offsets are dense from 0; no message is
//              appended twice (dedupe); no position is acknowledged to two messages.
//   groups     every message ends acked or dead-lettered in every group; poison messages end in
//              the group's DLQ with reason max_deliveries and exactly max_deliveries attempts;
//              the DLQ holds each dead message once, with its original bytes; a message acked
//              through a call that returned OK is acked at the end unless a kill followed closely.
//   deliveries attempt numbers never repeat and never go down; none exceeds max_deliveries; a
//              message is redelivered after an acknowledged ack only across a kill that came
//              within kAckMargin of the ack (acks are persisted in batches); it is never leased to
//              two consumers at once.
//
// Duplicates that at-least-once allows are counted, not failed.
//
// Thread safety: a plain function over snapshots.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "torture_history.h"

namespace broker::torture {

// An ack answered OK may be undone by a kill this soon after it (batched ack persistence: 10 ms
// by default, with room for a loaded machine); never by a later one.
inline constexpr auto kAckMargin = std::chrono::milliseconds(1000);

struct GroupFigures {
  uint64_t deliveries = 0;
  uint64_t redeliveries = 0;           // deliveries after a message's first
  uint64_t acked = 0;                  // messages acked at the end
  uint64_t dead_max_deliveries = 0;    // messages dead-lettered for max_deliveries
  uint64_t dead_poison = 0;            //   of which poison (as intended)
  uint64_t dead_normal = 0;            //   of which normal ones that crashes cost deliveries
  uint64_t dead_rejected = 0;          // dead-lettered by reject
  uint64_t redelivered_after_ack = 0;  // duplicates at-least-once allows (kill after an ack)
  // The longest time from an OK ack to the kill that undid it (batched ack persistence).
  std::chrono::milliseconds longest_undone_ack{0};
  uint64_t failed_settles = 0;  // settle calls answered with an error (brokerd gone, ...)
  uint64_t max_attempt_seen = 0;
};

struct TortureFigures {
  uint64_t acknowledged = 0;    // publishes acknowledged to a client
  uint64_t publish_calls = 0;   // message-carrying calls, retries included
  uint64_t failed_calls = 0;    // of which failed (brokerd down)
  uint64_t dedupe_answers = 0;  // acknowledged by the dedupe window: the retry of a publish
                                // whose first answer was lost
  uint64_t log_records = 0;
  uint64_t in_log_unacknowledged = 0;
  uint64_t lost = 0;  // acknowledged but missing or different: must be 0
  std::map<std::string, GroupFigures> groups;
  std::vector<std::string> violations;
};

TortureFigures CheckTorture(Broker& broker, const TortureHistory& history);

// A multi-line summary of the figures, for the test's output.
std::string FormatFigures(const TortureFigures& figures);

}  // namespace broker::torture
