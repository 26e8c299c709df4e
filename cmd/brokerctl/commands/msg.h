// brokerctl msg show: one record and its state in every group of its topic.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddMsgCommands(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
