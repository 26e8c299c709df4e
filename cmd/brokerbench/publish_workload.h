// W1, durable publish throughput: producers publish `messages` messages (payloads per PayloadMode) to one
// topic (the embedded engine's PublishAsync, or a Transport to brokerd), each keeping at most `window` messages unacknowledged; the clock runs
// from the first publish until the last acknowledgement (callback). Same semantics as W1 of the
// peer benchmarks (../shared/bench-peers/README.md), where one acknowledgement means "stored per
// the durability in effect".
//
// Thread safety: RunPublishWorkload may be called from any thread; it starts `producers` threads
// and returns after joining them. Callbacks run on the engine's writer thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "cpu_usage.h"
#include "payload.h"

namespace brokerbench {

struct PublishConfig {
  uint64_t messages = 1'000'000;  // in total, split evenly over the producers
  size_t batch = 1;               // messages per PublishAsync call (one atomic batch)
  size_t window = 1000;           // most messages in flight per producer; >= batch
  unsigned producers = 1;         // threads, each with its own window
  size_t payload_bytes = 128;
  PayloadMode payload_mode = PayloadMode::kRandom;  // each producer has its own PayloadSource
};

struct PublishOutcome {
  std::chrono::nanoseconds elapsed{0};  // first publish to last acknowledgement
  uint64_t acknowledged = 0;            // messages acknowledged successfully
  uint64_t calls = 0;                   // PublishAsync calls made
  // Per PublishAsync call, in ns, from just before the call to the start of its callback.
  std::vector<uint64_t> latencies_ns;
  // First failure reported by a callback; a producer stops at its first failure.
  broker::Status error;
  // CPU time of the producer threads during the run (the rest of the process's CPU time in the
  // same interval is the engine's: its writer thread, callbacks and RocksDB's threads).
  CpuTime producers_cpu;
};

// InvalidArgument for a config that cannot run (zero sizes, batch > window, ...).
broker::Status ValidatePublishConfig(const PublishConfig& config);

// How one producer publishes a batch to the workload's topic: `done` runs once with the outcome.
using PublishFn = std::function<void(std::vector<broker::Message> batch,
                                     broker::Broker::PublishCallback done)>;

// Runs the workload with `config.producers` producers, producer p publishing through sinks[p].
// The topic must exist (or be auto-created).
PublishOutcome RunPublishWorkload(const std::vector<PublishFn>& sinks, const PublishConfig& config);

}  // namespace brokerbench
