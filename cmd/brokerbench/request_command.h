// `brokerbench request`: W3 of ../shared/bench-peers. A responder group serves a topic; --requesters
// threads (sharing one client, so one multiplexed reply inbox) send --requests requests in total,
// one after another each, timing every round trip. The first min(requests/10, 1000) are warm-up
// and not recorded. In-process or over gRPC (--addr).
#pragma once

#include <CLI/CLI.hpp>

namespace brokerbench {

void AddRequestCommand(CLI::App& app, int* exit_code);

}  // namespace brokerbench
