// `brokerbench hold`: the cost of client lease management (issue 14). Pre-publishes --held
// messages, then consumers of one group (concurrency 1, at most 250 messages each, as many as it
// takes) lease them all and their handlers block until the end, so every message stays held (one
// running per consumer, the rest queued) and each consumer's lease keeper extends its leases when
// half the group's ack_timeout is left. Once all
// are held it measures, for --seconds, the CPU time of this process and (--server-pid) brokerd's,
// and reports it per 1,000 held messages per minute, with the extensions made.
// In-process or over gRPC (--addr).
#pragma once

#include <CLI/CLI.hpp>

namespace brokerbench {

void AddHoldCommand(CLI::App& app, int* exit_code);

}  // namespace brokerbench
