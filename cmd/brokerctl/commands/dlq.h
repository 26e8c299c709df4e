// brokerctl dlq list | peek | redrive | purge: the dead-letter queues of consumer groups.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddDlqCommands(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
