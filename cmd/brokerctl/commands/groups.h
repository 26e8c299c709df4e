// brokerctl groups list | describe | create | delete | reset: consumer groups with their lag.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddGroupsCommands(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
