// HelpFormatter: CLI11's help text, plus the root's global flags (--addr, --json, --token ...)
// under every subcommand's own, as `kubectl` and `rpk` show them: they are accepted after any
// command (brokerctl groups list --json), so `brokerctl groups list --help` lists them too.
//
// Thread safety: immutable after construction.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace brokerctl {

class HelpFormatter : public CLI::Formatter {
 public:
  // A subcommand's footer is preceded by a "Global options" group of the root's options (help and
  // version flags left out).
  std::string make_footer(const CLI::App* app) const override;
};

}  // namespace brokerctl
