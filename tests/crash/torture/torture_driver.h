// TortureDriver: runs the crash torture against a real brokerd. It starts brokerd (sync
// durability) on a fresh data directory, creates the topic and groups through the admin plane,
// runs publishers (idempotency keys, deterministic payloads, single and batch publishes) and the
// consumer groups of torture_workload.h through the gRPC client, and SIGKILLs brokerd at random
// moments for a bounded number of rounds, restarting it each time on the same data directory and
// the same address. Then it stops the publishers, lets the groups drain (every message acked or
// dead-lettered), closes the consumers and stops brokerd with SIGTERM, leaving the data directory
// for the checker. Everything the clients saw goes to a TortureHistory.
//
// Thread safety: Run() is called once, from one thread; it starts and joins its own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "broker/status.h"
#include "torture_history.h"

namespace broker::torture {

struct TortureConfig {
  uint64_t seed = 1;
  // brokerd is killed at most this many times...
  int max_rounds = 12;
  // ...and no new round starts after this much time.
  std::chrono::seconds budget{30};
  // How long brokerd lives in a round: one round in five is killed within kShortLife of
  // listening (recovery-time kills); the others after a uniform time in [min_life, max_life].
  std::chrono::milliseconds min_life{300};
  std::chrono::milliseconds max_life{2500};
  // Publisher threads: all but the last publish one message per call, the last in batches of 1-8.
  int publishers = 3;
  // Messages per second per publisher (a pacing limit; 0 = as fast as acknowledged).
  int publish_rate = 100;
  // How long the final drain may take (every message acked or dead-lettered).
  std::chrono::seconds drain_deadline{90};
  // The data directory (created; must not hold another broker).
  std::string data_dir;
};

struct TortureRun {
  // Not OK if the run could not be carried out as planned (brokerd did not start, a publish could
  // not be acknowledged before the deadline, the groups did not drain). brokerd is stopped either
  // way, so the checker can still look at what the data directory holds.
  Status status;
  int kills = 0;
  int starts = 0;
  std::chrono::milliseconds elapsed{0};
  std::chrono::milliseconds drain_time{0};
};

// Runs the whole torture.
TortureRun RunTorture(const TortureConfig& config, TortureHistory& history);

}  // namespace broker::torture
