// Finding the topic of a consumer group named on the command line: `groups describe email` works
// without --topic when only one topic has a group of that name.
#pragma once

#include <optional>
#include <string>

#include "commands/context.h"

namespace brokerctl {

// `topic` if given, else the one topic that has a group named `group`. nullopt after reporting,
// with *exit_code set: failure for an unknown group (or brokerd unreachable), usage if several
// topics have such a group (then --topic must say which).
std::optional<std::string> ResolveGroupTopic(Context& ctx, const std::string& group,
                                             const std::string& topic, int* exit_code);

}  // namespace brokerctl
