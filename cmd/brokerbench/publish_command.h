// `brokerbench publish`: the W1 workload (publish_workload.h) from the command line. Opens the
// broker, creates a fresh one-partition topic, runs the workload, checks the topic's end offset
// equals --messages, and prints throughput, publish latency and the group-commit figures of
// Broker::GetWriteStats as text or JSON.
#pragma once

#include <CLI/CLI.hpp>

namespace brokerbench {

// Adds the `publish` subcommand to `app`. If it is the one given, it runs when parsing completes
// and stores the process exit code in *exit_code (0 ok, 1 the run failed or did not verify).
void AddPublishCommand(CLI::App& app, int* exit_code);

}  // namespace brokerbench
