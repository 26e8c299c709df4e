// Parsing of the values people type on the command line: durations ("1h30m", "500ms"), rates
// ("10/s", "600/m") and headers ("name=value"). Pure functions, so main.cc can use them as CLI11
// validators and commands can convert validated text without handling errors twice.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace brokerctl {

// "250ms", "5s", "3m12s", "1h30m", "2d", or a plain number of seconds ("90"). Units: ms, s, m, h, d.
// nullopt for anything else (negative, empty, unknown unit, overflow).
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Messages per second from "10/s", "600/m", "3600/h" or a plain number ("10" = 10/s). Must be > 0.
std::optional<double> ParseRate(std::string_view text);

// "name=value" (the value may be empty or contain '='). nullopt without '=' or with an empty name.
std::optional<std::pair<std::string, std::string>> ParseHeader(std::string_view text);

// RFC 3339 UTC time such as "2026-11-24T21:03:05Z" (fractional seconds allowed), as microseconds
// since the Unix epoch. Only the 'Z' zone is accepted.
std::optional<int64_t> ParseUtcTime(std::string_view text);

}  // namespace brokerctl
