// brokerctl publish: append one message to a topic (for debugging and smoke tests).
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddPublishCommand(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
