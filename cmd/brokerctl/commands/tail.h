// brokerctl tail: the last records of a topic, optionally following new ones (polls
// AdminService.Read), optionally with one group's state of each record.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddTailCommand(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
