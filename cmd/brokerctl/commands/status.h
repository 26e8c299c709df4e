// brokerctl stats (broker counters) and brokerctl health (gRPC health check).
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddStatusCommands(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
