// brokerctl backup DIR: a consistent copy of brokerd's data directory (AdminService/Backup, a
// RocksDB checkpoint) written to DIR on brokerd's host while it keeps serving.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddBackupCommand(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
