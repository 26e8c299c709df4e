// The operator scenario brokerctl is tested against (and the docs walkthrough shows), written
// into a data directory with the embedded engine before brokerd opens it:
//
//   topic "orders", 2 partitions, 16 records (i = 0..15, key "customer-<i>")
//   group "email" (max_deliveries 3):
//     i = 5 (binary payload) and 9 rejected ("payload is not JSON", "invalid address ...")
//     i = 1, 2 failed three times with "smtp timeout ...": dead, reason max_deliveries
//     i = 3 failed three times with "template 'receipt-v2' missing", 90 minutes later
//     the other 7 of i < 12 acked; i = 12..15 never delivered (backlog 4)
//   group "analytics" (max_deliveries 5):
//     i = 7 rejected ("schema v1 unsupported"); i = 8 nacked with a 10-hour delay
//     the other 10 of i < 12 acked; i = 12..15 never delivered (backlog 4)
//
// The engine runs on a FakeClock starting at `start` (tests use "now - 2h"), so ages shown by
// brokerd (which runs on the real clock) look like those of a real incident.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "broker/status.h"
#include "broker/types.h"

namespace broker::testing {

struct ScenarioFacts {
  struct Placed {
    uint32_t partition = 0;
    uint64_t offset = 0;
  };
  static constexpr int kMessages = 16;
  static constexpr int kFirstBacklog = 12;  // i >= 12 were never delivered to any group
  // Where message i landed.
  std::vector<Placed> placed;
  // The exact bytes of message i's payload.
  std::vector<std::string> payloads;
  // Timestamp (FakeClock) of the scenario start.
  TimePoint start;

  static constexpr int kBinaryMessage = 5;
  static inline const std::vector<int> kEmailRejected = {5, 9};
  static inline const std::vector<int> kEmailSmtpTimeout = {1, 2};
  static inline const std::vector<int> kEmailTemplateMissing = {3};
  static constexpr int kAnalyticsRejected = 7;
  static constexpr int kAnalyticsDelayed = 8;

  // Messages of partition p with index i in [from, to).
  uint64_t CountIn(uint32_t p, int from, int to) const;
};

// Builds the scenario in `data_dir` (which must not hold a broker yet). The broker is closed
// again before returning, so brokerd can open the directory.
Result<ScenarioFacts> BuildScenario(const std::string& data_dir, TimePoint start);

}  // namespace broker::testing
