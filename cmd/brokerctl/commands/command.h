// How command files plug into the CLI11 tree: each exposes Add<Group>Commands(root, env), which
// adds its subcommands and, for each, a callback that runs it with the Context and stores the
// exit code. Also the validators shared by several commands.
#pragma once

#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "commands/context.h"
#include "parse.h"

namespace brokerctl {

struct CommandEnv {
  Context& ctx;
  int& exit_code;
};

// Runs `run(ctx)` when `command` was chosen, storing its exit code.
template <typename Run>
void OnRun(CLI::App* command, CommandEnv env, Run run) {
  command->callback([env, run = std::move(run)]() mutable { env.exit_code = run(env.ctx); });
}

inline CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return ParseDuration(text) ? "" : "'" + text + "' is not a duration (e.g. 500ms, 30s, 1h30m)";
      },
      "DURATION");
}

inline CLI::Validator RateValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return ParseRate(text) ? "" : "'" + text + "' is not a rate (e.g. 10/s, 600/m)";
      },
      "RATE");
}

inline CLI::Validator HeaderValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return ParseHeader(text) ? "" : "'" + text + "' is not a header: use name=value";
      },
      "NAME=VALUE");
}

}  // namespace brokerctl
