// The broker every workload runs against: the flags that choose it (data directory, in-memory,
// durability), opening it, and a fresh topic name per run so runs never share offsets.
//
// Thread safety: plain functions and values.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "broker/broker.h"
#include "broker/options.h"

namespace brokerbench {

struct BrokerFlags {
  // Empty: a directory of brokerbench's own under $TMPDIR (or /tmp), deleted when it exits, so a
  // run never writes into a broker's data directory (brokerd's default is ./broker-data).
  std::string data_dir;
  bool in_memory = false;
  broker::Durability durability = broker::Durability::kSync;
};

// Adds --data-dir, --in-memory and --durability sync|async to `command`, bound to `flags`.
void AddBrokerFlags(CLI::App& command, BrokerFlags& flags);

// Opens the engine as the flags say (the engine's defaults for everything else) in `data_dir`.
broker::Result<std::unique_ptr<broker::Broker>> OpenBroker(const BrokerFlags& flags,
                                                           const std::string& data_dir);

// A fresh directory for a run without --data-dir: $TMPDIR/brokerbench-XXXXXX (or /tmp).
broker::Result<std::string> MakeRunDirectory();

// "bench-<workload>-<UTC yyyymmdd-hhmmss>-<pid>-<microseconds>": unique per run, a valid name.
std::string FreshTopicName(std::string_view workload);

std::string_view DurabilityName(broker::Durability durability);

}  // namespace brokerbench
