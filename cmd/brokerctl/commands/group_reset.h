// brokerctl groups reset: move a consumer group's position (AdminService.ResetGroup), like
// Kafka's "reset offsets": to the earliest retained record, the end, an offset, or a time.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

// Adds `reset` under the `groups` command.
void AddGroupResetCommand(CLI::App& groups, CommandEnv env);

}  // namespace brokerctl
