// Human renderings of numbers for tables: durations ("3m12s"), UTC timestamps and byte counts.
// JSON output never uses these; it carries the raw integers.
#pragma once

#include <cstdint>
#include <string>

namespace brokerctl {

// A duration in microseconds, in at most two units: "0s", "850ms", "12s", "3m12s", "1h4m",
// "2d3h". Negative durations (clock skew) are shown as "0s".
std::string HumanDuration(int64_t micros);

// An age for tables: "-" when zero (nothing to be old), else HumanDuration.
std::string HumanAge(int64_t micros);

// Microseconds since the Unix epoch as "2026-11-24T21:03:05.123Z"; "-" for 0.
std::string FormatUtc(int64_t micros);

// 1536 -> "1.5 KiB"; below 1 KiB: "512 B".
std::string HumanBytes(uint64_t bytes);

// Microseconds since the Unix epoch, now, from the system clock (for "dead 12m ago").
int64_t NowMicros();

}  // namespace brokerctl
