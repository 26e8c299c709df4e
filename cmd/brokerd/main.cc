// brokerd: the broker daemon. Runs one broker::Broker on a data directory and serves it over gRPC
// (broker.v1.BrokerService and AdminService, plus health checking and reflection).
//
//   brokerd --data-dir /var/lib/brokerd --listen 127.0.0.1:7070
//   brokerd --config /etc/brokerd.toml
//   brokerd --data-dir DIR --kafka-listen 127.0.0.1:9092   (also speaks Kafka: docs/kafka.md)
//
// SIGTERM/SIGINT: stop accepting calls, let in-flight calls finish (--shutdown-grace), persist
// batched acks, close the data directory, exit 0.
//
// Exit codes (docs/operations.md, "Exit codes"): 0 clean stop; 1 cannot start (the data directory
// is in use or cannot be opened); 2 usage error (a bad flag, config file, or a file a flag names);
// 3 a listener cannot bind (the port is held by another process, or the host is not local).
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "flags.h"
#include "kafka/listener.h"
#include "metrics.h"
#include "metrics_server.h"
#include "process_allocator.h"
#include "rpc/server.h"

namespace {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
  kExitCannotListen = 3,
};

int Fail(const std::string& what, int exit_code = kExitFailure) {
  spdlog::error("event=fatal exit_code={} error=\"{}\"", exit_code, what);
  std::fprintf(stderr, "brokerd: %s\n", what.c_str());
  return exit_code;
}

// A listener that could not start: kUnavailable means it could not bind (exit 3), anything else
// is a bad address or file given by flags.
int FailListener(const broker::Status& status) {
  return Fail(status.message(),
              status.code() == broker::StatusCode::kUnavailable ? kExitCannotListen : kExitUsage);
}

// One line for a usage error. CLI11 names neither the config file nor the key it could not use.
std::string UsageMessage(const CLI::App& app, const CLI::ParseError& e) {
  std::string what = e.what();
  constexpr std::string_view kUnknownKey = "INI was not able to parse ";
  if (dynamic_cast<const CLI::ConfigError*>(&e) != nullptr && what.starts_with(kUnknownKey)) {
    const CLI::Option* config = app.get_config_ptr();
    const std::string file = config != nullptr && !config->results().empty()
                                 ? config->results().front()
                                 : std::string("?");
    what = "unknown key '" + what.substr(kUnknownKey.size()) + "' in config file '" + file +
           "' (keys are the long flag names without dashes; brokerd --help lists them)";
  }
  return what;
}

}  // namespace

int main(int argc, char** argv) {
  process_allocator::ConfigureAllocator();  // before any thread starts
  brokerd::Flags flags;
  CLI::App app{"brokerd: persistent message broker daemon (gRPC)", "brokerd"};
  brokerd::AddFlags(app, flags);
  app.set_version_flag("--version", std::string("brokerd ") + BROKER_VERSION);
  // Before parsing: a usage error is a `fatal` log event in the same format as every other line.
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return Fail(UsageMessage(app, e), kExitUsage);
  }
  const auto started_at = std::chrono::system_clock::now();
  spdlog::set_level(spdlog::level::from_str(flags.log_level));

  // Signals are taken by sigwait below, so every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  broker::rpc::Authorizer auth;
  if (!flags.tokens_file.empty()) {
    auto loaded = broker::rpc::Authorizer::LoadFile(flags.tokens_file);
    if (!loaded.ok()) return Fail(loaded.status().message(), kExitUsage);
    auth = std::move(loaded).value();
  }

  auto opened = broker::Broker::Open(brokerd::BrokerOptions(flags));
  if (!opened.ok()) {
    return Fail("cannot open data directory '" + flags.data_dir +
                "': " + opened.status().ToString());
  }
  std::unique_ptr<broker::Broker> engine = std::move(opened).value();

  auto server = broker::rpc::BrokerServer::Start(*engine, flags.server, std::move(auth),
                                                 flags.data_dir);
  if (!server.ok()) return FailListener(server.status());
  spdlog::info("event=started listen={} data_dir={} durability={} tls={} auth={} allocator=\"{}\"",
               (*server)->address(), flags.data_dir, flags.durability,
               flags.server.tls_cert.empty() ? "off" : "on",
               flags.tokens_file.empty() ? "off" : "tokens", process_allocator::AllocatorName());
  std::unique_ptr<brokerd::MetricsServer> metrics;
  if (!flags.metrics_listen.empty()) {
    brokerd::MetricsSource source{engine.get(), flags.data_dir, started_at};
    auto serving = brokerd::MetricsServer::Start(
        flags.metrics_listen, [source] { return brokerd::RenderMetrics(source); });
    if (!serving.ok()) return FailListener(serving.status());
    metrics = std::move(serving).value();
    spdlog::info("event=metrics_listening address={}", metrics->address());
    std::cout << "brokerd: metrics on http://" << metrics->address() << "/metrics" << std::endl;
  }
  std::unique_ptr<broker::kafka::KafkaListener> kafka;
  if (!flags.kafka_listen.empty()) {
    broker::kafka::ListenerConfig kafka_config;
    kafka_config.listen = flags.kafka_listen;
    kafka_config.advertise = flags.kafka_advertise;
    kafka_config.auto_create_topics = flags.auto_create_topics;
    auto listening = broker::kafka::KafkaListener::Start(*engine, kafka_config);
    if (!listening.ok()) return FailListener(listening.status());
    kafka = std::move(listening).value();
    spdlog::info("event=kafka_listening address={} advertised={}", kafka->address(),
                 kafka->advertised_address());
    std::cout << "brokerd: kafka on " << kafka->address() << std::endl;
  }
  // Scripts and tests read this line to learn the port (after the metrics and kafka lines, if
  // any).
  std::cout << "brokerd: listening on " << (*server)->address() << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("event=stopping signal={} grace_ms={}", signal_number, flags.shutdown_grace_ms);
  if (metrics) metrics->Stop();  // no scrapes of an engine that is closing
  if (kafka) kafka->Stop();  // waits for its produces and fetches in progress
  (*server)->Shutdown(std::chrono::milliseconds(flags.shutdown_grace_ms));
  server->reset();
  engine.reset();  // persists batched acks, commits queued writes, closes RocksDB
  spdlog::info("event=stopped");
  return kExitOk;
}
