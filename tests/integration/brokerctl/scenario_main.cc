// brokerctl_scenario DATA_DIR: writes the brokerctl test scenario (scenario.h) into DATA_DIR, with
// the scenario clock starting two hours ago, so brokerctl can be tried (and the operator
// walkthrough in docs/ reproduced) against `brokerd --data-dir DATA_DIR`.
#include <cstdio>

#include "scenario.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: brokerctl_scenario DATA_DIR\n");
    return 2;
  }
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const broker::TimePoint start =
      std::chrono::time_point_cast<std::chrono::microseconds>(now - std::chrono::hours(2));
  auto facts = broker::testing::BuildScenario(argv[1], start);
  if (!facts.ok()) {
    std::fprintf(stderr, "brokerctl_scenario: %s\n", facts.status().ToString().c_str());
    return 1;
  }
  std::printf("scenario written to %s\n", argv[1]);
  return 0;
}
