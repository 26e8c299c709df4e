// `brokerbench consume`: W2 of ../shared/bench-peers. Pre-publishes --messages messages (untimed),
// then --consumers members of one group receive them and ack each one individually; the clock
// stops when every ack has been applied. With --rate, instead publishes at that steady rate while
// consuming, and reports end-to-end latency (broker append time to the consumer receiving it).
// In-process or over gRPC (--addr).
#pragma once

#include <CLI/CLI.hpp>

namespace brokerbench {

void AddConsumeCommand(CLI::App& app, int* exit_code);

}  // namespace brokerbench
