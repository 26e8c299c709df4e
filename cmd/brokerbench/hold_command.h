// `brokerbench hold`: the cost of client lease management (issue 14). Pre-publishes --held
// messages, then one consumer (concurrency 1, prefetch --held - 1) takes them all and its handler
// blocks until the end, so every message stays held (one running, the rest queued) and the
// consumer's lease keeper extends each lease when half the group's ack_timeout is left. Once all
// are held it measures, for --seconds, the CPU time of this process and (--server-pid) brokerd's,
// and reports it per 1,000 held messages per minute, with the extensions made.
// In-process or over gRPC (--addr).
#pragma once

#include <CLI/CLI.hpp>

namespace brokerbench {

void AddHoldCommand(CLI::App& app, int* exit_code);

}  // namespace brokerbench
