// The deterministic simulation (simulation.h) as tests: a bounded number of seeds for CI, a long
// mode, the replay of one seed, and the seeds that once found a bug.
//
//   BROKER_SIM_SEED=N       run only seed N (what a failure prints to replay it)
//   BROKER_SIM_SEEDS=N      how many seeds Simulation.Seeds runs (default 40), from
//   BROKER_SIM_FIRST_SEED=N (default 1)
//   BROKER_SIM_MINUTES=M    long mode: run seeds one after another for M minutes instead
//   BROKER_SIM_STEPS=N      steps per seed (default 300)
//   BROKER_SIM_DIR=DIR      where the data directories go (default /dev/shm, else the temp dir)
#include "simulation.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

namespace broker::sim {
namespace {

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

std::string DataDir(uint64_t seed) {
  std::string base;
  if (const char* dir = std::getenv("BROKER_SIM_DIR"); dir != nullptr && *dir != '\0') {
    base = dir;
  } else {
    std::error_code ec;
    base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : ::testing::TempDir();
  }
  return base + "/broker-sim-" + std::to_string(::getpid()) + "-" + std::to_string(seed);
}

std::string ReplayCommand(uint64_t seed, int steps) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return "BROKER_SIM_SEED=" + std::to_string(seed) + " BROKER_SIM_STEPS=" + std::to_string(steps) +
         " " + (ec ? "simulation_tests" : exe.string()) + " --gtest_filter=Simulation.Seeds";
}

// Runs one seed; on a violation fails the test with everything needed to replay it.
bool RunSeed(uint64_t seed, int steps, SimulationResult* out = nullptr) {
  SimulationResult r = RunSimulation(seed, steps, DataDir(seed));
  if (out != nullptr) *out = r;
  if (r.violations.empty()) return true;
  std::string report = "seed " + std::to_string(seed) + " (" + r.config + ") broke after " +
                       std::to_string(r.steps) + " steps:\n";
  for (const std::string& v : r.violations) report += "  " + v + "\n";
  report += "last steps:\n";
  for (const std::string& line : r.trace) report += "  " + line + "\n";
  report += "replay: " + ReplayCommand(seed, steps) + "\n";
  ADD_FAILURE() << report;
  return false;
}

TEST(Simulation, Seeds) {
  const int steps = static_cast<int>(EnvNumber("BROKER_SIM_STEPS", 300));
  if (const char* one = std::getenv("BROKER_SIM_SEED"); one != nullptr && *one != '\0') {
    SimulationResult r;
    RunSeed(EnvNumber("BROKER_SIM_SEED", 0), steps, &r);
    std::cout << "seed " << r.seed << ": " << r.config << "\n  fingerprint " << r.fingerprint
              << ", " << r.steps << " steps\n";
    for (const std::string& line : r.trace) std::cout << "  " << line << "\n";
    return;
  }
  const uint64_t first = EnvNumber("BROKER_SIM_FIRST_SEED", 1);
  const uint64_t count = EnvNumber("BROKER_SIM_SEEDS", 40);
  const uint64_t minutes = EnvNumber("BROKER_SIM_MINUTES", 0);
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::minutes(minutes);
  SimulationResult total;
  uint64_t seeds = 0;
  for (uint64_t seed = first;; ++seed) {
    if (minutes > 0 ? std::chrono::steady_clock::now() >= deadline : seed >= first + count) break;
    SimulationResult r;
    const bool ok = RunSeed(seed, steps, &r);
    ++seeds;
    total.steps += r.steps;
    total.fingerprint = (total.fingerprint ^ r.fingerprint) * 1099511628211u;
    total.restarts += r.restarts;
    total.power_losses += r.power_losses;
    total.write_faults += r.write_faults;
    total.read_faults += r.read_faults;
    total.no_space += r.no_space;
    total.bytes_dropped += r.bytes_dropped;
    total.stats.published += r.stats.published;
    total.stats.deliveries += r.stats.deliveries;
    total.stats.redeliveries += r.stats.redeliveries;
    total.stats.persisted_acks += r.stats.persisted_acks;
    total.stats.lost_async += r.stats.lost_async;
    total.stats.phantoms += r.stats.phantoms;
    total.stats.retention_deleted += r.stats.retention_deleted;
    if (!ok) break;
  }
  const double elapsed_min =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / 60;
  std::cout << "simulation: " << seeds << " seeds from " << first << " (" << steps
            << " steps each, " << total.steps << " run) in " << elapsed_min * 60
            << " s: " << (elapsed_min > 0 ? seeds / elapsed_min : 0) << " seeds/min, fingerprint "
            << total.fingerprint << "\n"
            << "  published " << total.stats.published << ", deliveries " << total.stats.deliveries
            << " (redeliveries " << total.stats.redeliveries << "), persisted acks "
            << total.stats.persisted_acks << "\n  restarts " << total.restarts << ", power losses "
            << total.power_losses << " (" << total.bytes_dropped << " unsynced bytes dropped, "
            << total.stats.lost_async << " async messages lost, " << total.stats.phantoms
            << " failed publishes found written), write faults " << total.write_faults
            << ", full disks " << total.no_space << ", read faults " << total.read_faults
            << ", retention deleted " << total.stats.retention_deleted << "\n";
}

// Determinism: the same seed takes the same steps with the same outcomes.
TEST(Simulation, ASeedReplaysTheSameRun) {
  for (uint64_t seed : {4242, 17, 99}) {
    SimulationResult a, b;
    ASSERT_TRUE(RunSeed(seed, 200, &a));
    ASSERT_TRUE(RunSeed(seed, 200, &b));
    EXPECT_EQ(a.steps, b.steps);
    EXPECT_EQ(a.fingerprint, b.fingerprint)
        << "seed " << seed << ": the runs differ; the first one's last steps:\n"
        << ::testing::PrintToString(a.trace) << "\nthe second's:\n"
        << ::testing::PrintToString(b.trace);
  }
}

// Seeds that found a bug. A seed replays its scenario only with the simulation it was found
// with (a change to the driver changes what a seed does), so each finding also has a unit test.

// Issue 15, finding 3: a sync retry of an async publish, answered as a duplicate before the
// original was synced, lost with it in a power loss. Found with the fix (the writer syncs the WAL
// for such a duplicate, storage/log_writer.cc) taken out: "I1: partition 1 offset 1 ('s11-5')
// was answered durable (sync) and is gone after a power loss" at step 16.
TEST(SimulationRegression, Seed11ASyncDuplicateOfAnAsyncPublishSurvivesPowerLoss) {
  EXPECT_TRUE(RunSeed(11, 300));
}

// Issue 15, finding 2: a read error taken for retention settled unhandled messages (they then
// show as acked). Found with the fix (Group::ReadOne keeps a read error apart from a deleted
// record) taken out: "I3: partition 0 offset 5 ends acked, but no ack of it was ever answered
// OK: settled without being handled", and more (checked again with the driver as committed).
TEST(SimulationRegression, Seed3AReadErrorNeverSettlesAMessage) { EXPECT_TRUE(RunSeed(3, 300)); }

// Issue 15: seed 100732 ended with two dead letters for each of two messages (about 1 run in 6-9;
// "I3: partition 0 offset 28 is dead with 2 dead letters"). Both were being dead-lettered while
// the disk was full. At the restart that cleared it, RocksDB's own full-disk recovery let the last
// writes through: a group write that had failed gave the messages' records back after their
// dead-letter writes were queued, the next group write (queued after them) put the records back
// after the dead-letter writes had deleted them, and the broker closed before another write. The
// restart loaded the messages as unsettled next to their dead letters. Fixed: a queued dead-letter
// write is the last word on its message's record (GroupState::DeadLetterQueued), and it also
// writes the message's lease run. Unit tests: GroupStoreTest.*, GroupStateTest.
// AQueuedDeadLetterWriteIsTheLastWordOnItsMessagesRecord. The seed does not replay the same run
// every time (it depends on when RocksDB's full-disk recovery ran), so this passing once proves
// little: it was run 20 times after the fix (docs/testing.md, "Simulation").
TEST(SimulationRegression, Seed100732AMessageHasOneDeadLetter) {
  EXPECT_TRUE(RunSeed(100732, 300));
}

}  // namespace
}  // namespace broker::sim
