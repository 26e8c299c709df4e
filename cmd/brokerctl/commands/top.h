// brokerctl top: a live, refreshing table of every consumer group: publish and settle rates,
// backlog, oldest-unsettled age and its trend, DLQ depth (red when above zero on a terminal).
// `--once` prints one frame (two samples an interval apart) for tests and scripts.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddTopCommand(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
