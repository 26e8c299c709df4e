// brokerd's flags: what the command line and the --config file (TOML/INI, keys are the long flag
// names) may set, their defaults, and the engine options they select. Kept apart from main.cc so
// the parsing can be tested and fuzzed (tests/fuzz/brokerd_flags_fuzzer.cc) without a daemon.
//
// Thread safety: plain functions over values.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "broker/options.h"
#include "rpc/server.h"

namespace brokerd {

struct Flags {
  std::string data_dir = "./broker-data";
  std::string durability = "sync";
  bool auto_create_topics = true;
  // Retention of auto-created topics (broker::Options::default_topic_config).
  std::string auto_create_retention = "limits";
  uint64_t auto_create_max_bytes = 0;
  // Age past which dead letters are deleted from dead-letter topics created from now on; 0: kept.
  int64_t dlq_retention_age_ms = 0;
  size_t max_message_bytes = 1 << 20;
  size_t max_headers = 64;
  std::string tokens_file;
  std::string log_level = "info";
  int64_t shutdown_grace_ms = 5000;
  std::string metrics_listen;  // host:port of the Prometheus endpoint; empty (default): off
  // host:port of the Kafka protocol listener (docs/kafka.md); empty (default): off. Loopback
  // only (no SASL yet).
  std::string kafka_listen;
  std::string kafka_advertise;  // host:port Metadata advertises; empty: the bound listen address
  // What RocksDB may hold in memory (broker::Options; docs/operations.md, "Sizing").
  size_t write_buffer_mib = broker::Options{}.write_buffer_bytes >> 20;
  size_t memtable_budget_mib = broker::Options{}.memtable_budget_bytes >> 20;
  size_t block_cache_mib = broker::Options{}.block_cache_bytes >> 20;
  broker::rpc::ServerConfig server;
};

// Registers every brokerd flag (and --config) on `app`, bound to the fields of `flags`, which must
// outlive the parse.
void AddFlags(CLI::App& app, Flags& flags);

// The broker::Options the parsed flags select.
broker::Options BrokerOptions(const Flags& flags);

}  // namespace brokerd
