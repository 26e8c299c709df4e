// brokerd: the broker daemon. Runs one broker::Broker on a data directory and serves it over gRPC
// (broker.v1.BrokerService and AdminService, plus health checking and reflection).
//
//   brokerd --data-dir /var/lib/brokerd --listen 127.0.0.1:7070
//   brokerd --config /etc/brokerd.toml
//
// SIGTERM/SIGINT: stop accepting calls, let in-flight calls finish (--shutdown-grace), persist
// batched acks, close the data directory, exit 0.
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "rpc/server.h"

namespace {

struct Flags {
  std::string data_dir = "./broker-data";
  std::string durability = "sync";
  bool auto_create_topics = true;
  size_t max_message_bytes = 1 << 20;
  size_t max_headers = 64;
  std::string tokens_file;
  std::string log_level = "info";
  int64_t shutdown_grace_ms = 5000;
  broker::rpc::ServerConfig server;
};

int Fail(const std::string& what) {
  spdlog::error("{}", what);
  std::fprintf(stderr, "brokerd: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"brokerd: persistent message broker daemon (gRPC)", "brokerd"};
  app.set_config("--config", "", "Read flags from a TOML/INI file (keys are the long flag names)");
  app.add_option("--data-dir", flags.data_dir, "Data directory (RocksDB); created if missing")
      ->capture_default_str();
  app.add_option("--listen", flags.server.listen, "host:port to serve on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--durability", flags.durability, "sync (fsync before ack) or async")
      ->check(CLI::IsMember({"sync", "async"}))
      ->capture_default_str();
  app.add_option("--auto-create-topics", flags.auto_create_topics,
                 "Create topics on first publish/subscribe")
      ->capture_default_str();
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
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--shutdown-grace-ms", flags.shutdown_grace_ms,
                 "On SIGTERM, how long in-flight calls may take to finish")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);

  // Signals are taken by sigwait below, so every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  broker::rpc::Authorizer auth;
  if (!flags.tokens_file.empty()) {
    auto loaded = broker::rpc::Authorizer::LoadFile(flags.tokens_file);
    if (!loaded.ok()) return Fail(loaded.status().message());
    auth = std::move(loaded).value();
  }

  broker::Options options;
  options.data_dir = flags.data_dir;
  options.durability =
      flags.durability == "async" ? broker::Durability::kAsync : broker::Durability::kSync;
  options.auto_create_topics = flags.auto_create_topics;
  options.limits.max_message_bytes = flags.max_message_bytes;
  options.limits.max_headers = flags.max_headers;
  auto opened = broker::Broker::Open(options);
  if (!opened.ok()) {
    return Fail("cannot open data directory '" + flags.data_dir +
                "': " + opened.status().ToString());
  }
  std::unique_ptr<broker::Broker> engine = std::move(opened).value();

  auto server = broker::rpc::BrokerServer::Start(*engine, flags.server, std::move(auth),
                                                 flags.data_dir);
  if (!server.ok()) return Fail(server.status().message());
  spdlog::info("event=started listen={} data_dir={} durability={} tls={} auth={}",
               (*server)->address(), flags.data_dir, flags.durability,
               flags.server.tls_cert.empty() ? "off" : "on",
               flags.tokens_file.empty() ? "off" : "tokens");
  // Scripts and tests read this line to learn the port.
  std::cout << "brokerd: listening on " << (*server)->address() << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("event=stopping signal={} grace_ms={}", signal_number, flags.shutdown_grace_ms);
  (*server)->Shutdown(std::chrono::milliseconds(flags.shutdown_grace_ms));
  server->reset();
  engine.reset();  // persists batched acks, commits queued writes, closes RocksDB
  spdlog::info("event=stopped");
  return 0;
}
