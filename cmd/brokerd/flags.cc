#include "flags.h"

#include "rpc/host_port.h"

namespace brokerd {
namespace {

// A listen address needs an explicit port: "localhost" alone is refused rather than taken as
// gRPC's default (443) or the HTTP one (80).
CLI::Validator ListenAddress() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::string error;
        if (broker::net::ParseHostPort(value, "address", std::nullopt, &error)) return {};
        return error;
      },
      "HOST:PORT");
}

}  // namespace

void AddFlags(CLI::App& app, Flags& flags) {
  app.set_config("--config", "", "Read flags from a TOML/INI file (keys are the long flag names)");
  // A misspelt key is an error, not a setting silently left at its default (a typo in
  // metrics-listen would turn metrics off without a word).
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_option("--data-dir", flags.data_dir, "Data directory (RocksDB); created if missing")
      ->capture_default_str();
  app.add_option("--listen", flags.server.listen,
                 "host:port to serve on (port 0: any free port; IPv6: [::1]:7070)")
      ->check(ListenAddress())
      ->capture_default_str();
  app.add_option("--durability", flags.durability, "sync (fsync before ack) or async")
      ->check(CLI::IsMember({"sync", "async"}))
      ->capture_default_str();
  app.add_option("--auto-create-topics", flags.auto_create_topics,
                 "Create topics on first publish/subscribe")
      ->capture_default_str();
  app.add_option("--auto-create-retention", flags.auto_create_retention,
                 "Retention policy of auto-created topics: limits (kept forever unless limited) "
                 "or interest (deleted once every group settled them)")
      ->check(CLI::IsMember({"limits", "interest"}))
      ->capture_default_str();
  app.add_option("--auto-create-max-bytes", flags.auto_create_max_bytes,
                 "With --auto-create-retention interest: cap on each auto-created topic's stored "
                 "bytes, past which publishes are refused (0: no cap)")
      ->capture_default_str();
  app.add_option("--dlq-retention-age-ms", flags.dlq_retention_age_ms,
                 "Delete dead letters older than this from dead-letter topics created from now on "
                 "(0: keep them until purged)")
      ->check(CLI::Range(int64_t{0}, int64_t{100} * 365 * 24 * 3600 * 1000))
      ->capture_default_str();
  app.final_callback([&flags] {
    if (flags.auto_create_max_bytes != 0 && flags.auto_create_retention != "interest") {
      throw CLI::ValidationError("--auto-create-max-bytes",
                                 "applies to --auto-create-retention interest only (a limits "
                                 "topic deletes old records instead of refusing publishes)");
    }
  });
  app.add_option("--max-message-bytes", flags.max_message_bytes, "Largest message accepted")
      ->capture_default_str();
  app.add_option("--max-headers", flags.max_headers, "Most headers per message")
      ->capture_default_str();
  app.add_option("--max-frame-bytes", flags.server.max_receive_bytes,
                 "Largest gRPC request frame accepted")
      ->capture_default_str();
  app.add_option("--tls-cert", flags.server.tls_cert, "PEM certificate: enables TLS");
  app.add_option("--tls-key", flags.server.tls_key, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", flags.server.tls_client_ca,
                 "PEM CA bundle: require client certificates signed by it (mutual TLS)");
  app.add_option("--tokens-file", flags.tokens_file,
                 "Bearer tokens: lines '<token> <publish,consume,admin> [<topic prefixes>]'");
  // The names brokerd prints in its lines (level=warning) and their short forms.
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warning (warn), error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warning", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--shutdown-grace-ms", flags.shutdown_grace_ms,
                 "On SIGTERM, how long in-flight calls may take to finish")
      ->capture_default_str();
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "host:port serving Prometheus metrics over HTTP (GET /metrics); off by default")
      ->check(ListenAddress());
  app.add_option("--kafka-listen", flags.kafka_listen,
                 "host:port serving the Kafka protocol (docs/kafka.md); off by default; loopback "
                 "only, as SASL is not supported yet")
      ->check(ListenAddress());
  app.add_option("--kafka-advertise", flags.kafka_advertise,
                 "host:port Kafka clients are told to connect to (Metadata); default: the "
                 "--kafka-listen address")
      ->check(ListenAddress());
  app.add_option("--write-buffer-mib", flags.write_buffer_mib,
                 "RocksDB memtable size per column family, MiB (the log's; the others take at "
                 "most 16)")
      ->check(CLI::Range(size_t{1}, size_t{4096}))
      ->capture_default_str();
  app.add_option("--memtable-budget-mib", flags.memtable_budget_mib,
                 "Bound on all RocksDB memtables together, MiB; past it one is flushed early "
                 "(0: no overall bound)")
      ->check(CLI::Range(size_t{0}, size_t{65536}))
      ->capture_default_str();
  app.add_option("--block-cache-mib", flags.block_cache_mib,
                 "RocksDB block cache shared by all column families, MiB (0: none)")
      ->check(CLI::Range(size_t{0}, size_t{65536}))
      ->capture_default_str();
}

broker::Options BrokerOptions(const Flags& flags) {
  broker::Options options;
  options.data_dir = flags.data_dir;
  options.durability =
      flags.durability == "async" ? broker::Durability::kAsync : broker::Durability::kSync;
  options.auto_create_topics = flags.auto_create_topics;
  if (flags.auto_create_retention == "interest") {
    options.default_topic_config.retention = broker::RetentionPolicy::kInterest;
  }
  options.default_topic_config.max_bytes = flags.auto_create_max_bytes;
  options.dead_letter_topic_config.retention_age =
      std::chrono::milliseconds(flags.dlq_retention_age_ms);
  options.limits.max_message_bytes = flags.max_message_bytes;
  options.limits.max_headers = flags.max_headers;
  options.write_buffer_bytes = flags.write_buffer_mib << 20;
  options.memtable_budget_bytes = flags.memtable_budget_mib << 20;
  options.block_cache_bytes = flags.block_cache_mib << 20;
  return options;
}

}  // namespace brokerd
