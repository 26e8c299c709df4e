// `brokerbench wakeup`: the floor under W3 on this machine. Two threads pass a turn back and forth
// through a mutex and two condition variables, each sleeping while it waits, exactly as a blocking
// requester and a responder waiting for work do, with no broker in between; it reports the round
// trip (two wake-ups) with W3's percentiles. An in-process request-reply between threads that sleep
// while they wait cannot be faster than this; how far W3 is above it is the broker's own cost.
#pragma once

#include <CLI/CLI.hpp>

namespace brokerbench {

void AddWakeupCommand(CLI::App& app, int* exit_code);

}  // namespace brokerbench
