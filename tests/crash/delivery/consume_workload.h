// The workload shared by the consume crash test and its child (consume_child): broker options,
// the group's config, and the line protocol the child reports on its stdout.
//
// Child -> parent, one line per event, each written with a single write() (atomic on a pipe):
//   R                 the child has opened the broker and joined the group
//   D <p> <o> <n>     delivery of partition p offset o, attempt n (after Poll returned it)
//   A <p> <o>         Ack returned OK
//   N <p> <o>         Nack returned OK
//   J <p> <o>         Reject returned OK
//   L <p> <o>         Ack, Nack or Reject refused: the lease had expired already
//   X                 nothing is left unsettled; the child closes the broker and exits 0
//   E <text>          an unexpected error; the child exits 1
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "broker/delivery.h"
#include "broker/options.h"

namespace broker::consume_crash {

inline constexpr char kTopic[] = "jobs";
inline constexpr char kGroup[] = "workers";
inline constexpr uint32_t kPartitions = 4;
inline constexpr uint32_t kMessages = 10000;
inline constexpr uint32_t kMaxDeliveries = 4;

// Real clock, fsynced writes, background timers on: as a service would run it.
inline Options WorkloadOptions(const std::string& data_dir) {
  Options options;
  options.data_dir = data_dir;
  options.durability = Durability::kSync;
  options.background_work = true;
  return options;
}

inline GroupConfig WorkloadGroupConfig() {
  GroupConfig config;
  config.ack_timeout = std::chrono::milliseconds(200);
  config.max_deliveries = kMaxDeliveries;
  config.backoff = {.initial = std::chrono::milliseconds(10),
                    .multiplier = 2,
                    .max = std::chrono::milliseconds(80),
                    .jitter = 0.2};
  return config;
}

}  // namespace broker::consume_crash
