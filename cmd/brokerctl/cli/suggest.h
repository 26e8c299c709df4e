// Did-you-mean for the command line. CLI11 reports a mistyped command as "A subcommand is
// required" and a mistyped flag as "The following argument was not expected"; this names what was
// not understood, where, and the closest command or flag (as git, rpk and cargo do):
//   unknown command 'lsit' for 'brokerctl groups'; did you mean 'list'?
//   unknown flag '--jsn' for 'brokerctl groups list'; did you mean '--json'?
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace brokerctl {

// Edit distance counting an insertion, deletion, substitution or swap of two neighbouring
// characters as one step ("lsit" -> "list" is 1).
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `typed`, if close enough to be a likely typo (2 steps for words of up
// to 3 characters, else a third of the length, at least 1; dashes not counted), else nullopt.
std::optional<std::string> Closest(std::string_view typed, const std::vector<std::string>& candidates);

// After `root` failed to parse with `error`: a message naming the unknown command or flag (with a
// suggestion if one is close), or that a command needs a subcommand (listing them). nullopt when
// the error is about something else; CLI11's own message then stands.
std::optional<std::string> ExplainParseError(const CLI::App& root, const CLI::ParseError& error);

}  // namespace brokerctl
