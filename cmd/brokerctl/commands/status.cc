#include "commands/status.h"

#include <chrono>
#include <memory>

#include "output/format.h"
#include "output/table.h"

namespace brokerctl {
namespace {

int Stats(Context& ctx) {
  v1::Stats stats;
  if (!ctx.Admin(&AdminStub::GetStats, v1::GetStatsRequest(), &stats)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson(StatsJson(stats));
    return kExitOk;
  }
  KeyValues fields;
  fields.Add("brokerd", stats.version() + " at " + ctx.options().addr);
  fields.Add("data dir", stats.data_dir());
  fields.Add("uptime", HumanDuration(stats.uptime_s() * 1000000));
  fields.Add("topics", std::to_string(stats.topics()));
  fields.Add("groups", std::to_string(stats.groups()));
  fields.Add("messages", std::to_string(stats.messages()) + " appended since start (" +
                             std::to_string(stats.duplicates()) + " duplicates answered)");
  fields.Add("publish calls", std::to_string(stats.publish_calls()));
  fields.Add("commits", std::to_string(stats.commits()) + " (" +
                            std::to_string(stats.synced_commits()) + " fsynced, covering " +
                            std::to_string(stats.synced_messages()) + " messages)");
  fields.Print(ctx.out());
  return kExitOk;
}

const char* ServingName(grpc::health::v1::HealthCheckResponse::ServingStatus status) {
  switch (status) {
    case grpc::health::v1::HealthCheckResponse::UNKNOWN: return "UNKNOWN";
    case grpc::health::v1::HealthCheckResponse::SERVING: return "SERVING";
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING: return "NOT_SERVING";
    case grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN: return "SERVICE_UNKNOWN";
    default: return "UNKNOWN";  // proto3 enums are open
  }
}

int Health(Context& ctx, const std::string& service) {
  Connection* conn = ctx.Connect();
  if (conn == nullptr) return kExitFailure;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status =
      conn->Call(conn->health(), &grpc::health::v1::Health::Stub::Check, request, &response);
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  if (!status.ok()) return ctx.RpcFailed(status);
  const bool serving = response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  if (ctx.json()) {
    ctx.PrintJson({{"addr", ctx.options().addr},
                   {"service", service},
                   {"status", ServingName(response.status())},
                   {"serving", serving},
                   {"latency_us", latency.count()}});
  } else {
    ctx.out() << "brokerd at " << ctx.options().addr << ": " << ServingName(response.status())
              << " (answered in " << HumanDuration(latency.count()) << ")\n";
  }
  return serving ? kExitOk : kExitFailure;
}

}  // namespace

void AddStatusCommands(CLI::App& root, CommandEnv env) {
  CLI::App* stats = root.add_subcommand("stats", "Broker counters: topics, groups, writes, uptime");
  stats->footer("Example:\n  brokerctl stats --json");
  OnRun(stats, env, [](Context& ctx) { return Stats(ctx); });

  auto service = std::make_shared<std::string>();
  CLI::App* health = root.add_subcommand(
      "health", "gRPC health check (grpc.health.v1.Health/Check); exit 0 only if SERVING");
  health->add_option("--service", *service, "Service to ask about; default: the whole server");
  health->footer(
      "Needs no token. Suitable for probes:\n"
      "  brokerctl health --addr 127.0.0.1:7070 --timeout 1s");
  OnRun(health, env, [service](Context& ctx) { return Health(ctx, *service); });
}

}  // namespace brokerctl
