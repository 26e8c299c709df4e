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
#include "flags.h"
#include "metrics.h"
#include "metrics_server.h"
#include "rpc/server.h"

namespace {

int Fail(const std::string& what) {
  spdlog::error("event=fatal error=\"{}\"", what);
  std::fprintf(stderr, "brokerd: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  brokerd::Flags flags;
  CLI::App app{"brokerd: persistent message broker daemon (gRPC)", "brokerd"};
  brokerd::AddFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  const auto started_at = std::chrono::system_clock::now();

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

  auto opened = broker::Broker::Open(brokerd::BrokerOptions(flags));
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
  std::unique_ptr<brokerd::MetricsServer> metrics;
  if (!flags.metrics_listen.empty()) {
    brokerd::MetricsSource source{engine.get(), flags.data_dir, started_at};
    auto serving = brokerd::MetricsServer::Start(
        flags.metrics_listen, [source] { return brokerd::RenderMetrics(source); });
    if (!serving.ok()) return Fail(serving.status().message());
    metrics = std::move(serving).value();
    spdlog::info("event=metrics_listening address={}", metrics->address());
    std::cout << "brokerd: metrics on http://" << metrics->address() << "/metrics" << std::endl;
  }
  // Scripts and tests read this line to learn the port (after the metrics line, if any).
  std::cout << "brokerd: listening on " << (*server)->address() << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("event=stopping signal={} grace_ms={}", signal_number, flags.shutdown_grace_ms);
  if (metrics) metrics->Stop();  // no scrapes of an engine that is closing
  (*server)->Shutdown(std::chrono::milliseconds(flags.shutdown_grace_ms));
  server->reset();
  engine.reset();  // persists batched acks, commits queued writes, closes RocksDB
  spdlog::info("event=stopped");
  return 0;
}
