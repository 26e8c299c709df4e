// brokerctl consume: joins a consumer group as one member and settles what it is given (ack by
// default; nack, reject or fail with an error to play a failing consumer), printing each message
// as `tail` does. Uses the client library's gRPC transport, whose subscription rejoins the group
// by itself when brokerd restarts.
#pragma once

#include <CLI/CLI.hpp>

#include "commands/command.h"

namespace brokerctl {

void AddConsumeCommand(CLI::App& root, CommandEnv env);

}  // namespace brokerctl
