// brokerctl topics list | create | describe | delete.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddTopicsCommands(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
