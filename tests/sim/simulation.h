// Simulation: one seeded, deterministic run of an embedded broker through random publishes,
// polls, settles, member changes, clock steps, retention, injected write and read faults, full
// disks, clean restarts and power losses, checked step by step against SimModel's invariants
// (sim_model.h), then drained and checked once more.
//
// Determinism: every choice comes from one std::mt19937_64 seeded with the seed; time is a
// FakeClock moved only by the simulation; the broker runs with background_work off, so its only
// threads are the log writer (driven through its FIFO queue: after each step a barrier publish
// waits until every write the step queued has committed and called back) and RocksDB's own
// flush/compaction threads, which faults never reach (FaultFileSystem::set_foreground_only).
// A full disk is only ever cleared by a restart, because RocksDB retries it on a real-time timer.
// So a seed replays the same run: the fingerprint (a hash of every step's outcome) is the same.
//
// Thread safety: none; call from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim_model.h"

namespace broker::sim {

struct SimulationResult {
  uint64_t seed = 0;
  int steps = 0;                        // steps run (the run stops at the first violation)
  std::vector<std::string> violations;  // empty: every invariant held
  std::vector<std::string> trace;       // the last steps, for the failure report
  std::string config;                   // the seed's broker and group configuration
  uint64_t fingerprint = 0;             // hash of every step's outcome
  SimModel::Stats stats;
  uint64_t restarts = 0, power_losses = 0, write_faults = 0, read_faults = 0, no_space = 0,
           bytes_dropped = 0;
};

// Runs `steps` random steps of seed `seed` with data under `dir` (created and removed).
SimulationResult RunSimulation(uint64_t seed, int steps, const std::string& dir);

}  // namespace broker::sim
