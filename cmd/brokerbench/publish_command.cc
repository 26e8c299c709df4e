#include "publish_command.h"

#include <algorithm>
#include <iostream>
#include <memory>

#include "process_allocator.h"
#include "bench_broker.h"
#include "bench_target.h"
#include "cpu_usage.h"
#include "latency_summary.h"
#include "payload.h"
#include "publish_workload.h"
#include "report.h"
#include "system_load.h"

namespace brokerbench {
namespace {

struct PublishFlags {
  TargetFlags target;
  PublishConfig workload;
  bool json = false;
};

double Ratio(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

int RunPublish(const PublishFlags& flags) {
  if (broker::Status s = ValidatePublishConfig(flags.workload); !s.ok()) {
    std::cerr << "brokerbench publish: " << s.ToString() << "\n";
    return 1;
  }
  auto target = BenchTarget::Open(flags.target);
  if (!target.ok()) {
    std::cerr << "brokerbench publish: cannot open the broker: " << target.status().ToString()
              << "\n";
    return 1;
  }
  broker::Broker* embedded = (*target)->embedded();
  const std::string topic = FreshTopicName("publish");
  std::vector<std::unique_ptr<broker::client::Transport>> transports;
  std::vector<PublishFn> sinks;
  if (embedded != nullptr) {
    if (broker::Status s = embedded->CreateTopic(topic, {.partitions = 1}); !s.ok()) {
      std::cerr << "brokerbench publish: cannot create topic " << topic << ": " << s.ToString()
                << "\n";
      return 1;
    }
    sinks.assign(flags.workload.producers,
                 [embedded, &topic](std::vector<broker::Message> batch,
                                    broker::Broker::PublishCallback done) {
                   embedded->PublishAsync(topic, std::move(batch), {}, std::move(done));
                 });
  } else {  // brokerd auto-creates the topic (one partition) on the first publish
    broker::PublishOptions options;
    options.durability = flags.target.broker.durability;
    for (unsigned p = 0; p < flags.workload.producers; ++p) {
      auto transport = (*target)->NewTransport(p);
      if (!transport.ok()) {
        std::cerr << "brokerbench publish: " << transport.status().ToString() << "\n";
        return 1;
      }
      broker::client::Transport* t = transport->get();
      transports.push_back(std::move(transport).value());
      sinks.push_back([t, &topic, options](std::vector<broker::Message> batch,
                                           broker::Broker::PublishCallback done) {
        t->Publish(topic, std::move(batch), options, std::move(done));
      });
    }
  }
  const double load_before = LoadAverage1();
  const broker::WriteStats before = embedded ? embedded->GetWriteStats() : broker::WriteStats{};
  const CpuTime cpu_before = ProcessCpuTime();

  PublishOutcome outcome = RunPublishWorkload(sinks, flags.workload);

  const CpuTime cpu = ProcessCpuTime() - cpu_before;
  const broker::WriteStats after = embedded ? embedded->GetWriteStats() : broker::WriteStats{};
  const double load_after = LoadAverage1();
  const uint64_t n = flags.workload.messages;
  // Embedded: the topic's end offset must equal what was acknowledged. Over gRPC the
  // acknowledgements (one position per message) are the check.
  uint64_t end_offset = outcome.acknowledged;
  broker::Status describe_error;
  if (embedded != nullptr) {
    auto described = embedded->DescribeTopic(topic);
    end_offset = 0;
    if (described.ok()) {
      for (const broker::PartitionInfo& p : described->partitions)
        end_offset += p.end_offset.value();
    } else {
      describe_error = described.status();
    }
  }
  const bool verified =
      outcome.error.ok() && describe_error.ok() && end_offset == n && outcome.acknowledged == n;

  const double seconds = std::chrono::duration<double>(outcome.elapsed).count();
  const LatencySummary latency = Summarize(outcome.latencies_ns);
  const uint64_t commits = after.commits - before.commits;
  const uint64_t synced_commits = after.synced_commits - before.synced_commits;
  const uint64_t messages = after.messages - before.messages;
  const uint64_t synced_messages = after.synced_messages - before.synced_messages;
  const uint64_t calls = after.publish_calls - before.publish_calls;

  Report report;
  report.Add("config", "workload", std::string("publish"));
  report.Add("config", "transport", (*target)->mode());
  report.Add("config", "durability", std::string(DurabilityName(flags.target.broker.durability)));
  if (embedded != nullptr) {
    report.Add("config", "in_memory", flags.target.broker.in_memory);
    report.Add("config", "data_dir", (*target)->data_dir());
  } else {
    report.Add("config", "addr", flags.target.addr);
    report.Add("config", "connections", static_cast<uint64_t>(flags.target.connections));
  }
  report.Add("config", "topic", topic);
  report.Add("config", "messages", n);
  report.Add("config", "payload_bytes", static_cast<uint64_t>(flags.workload.payload_bytes));
  report.Add("config", "payload_mode", std::string(PayloadModeName(flags.workload.payload_mode)));
  report.Add("config", "batch", static_cast<uint64_t>(flags.workload.batch));
  report.Add("config", "window", static_cast<uint64_t>(flags.workload.window));
  report.Add("config", "producers", static_cast<uint64_t>(flags.workload.producers));
  report.Add("config", "loadavg1_before", load_before);
  report.Add("config", "cpus", AllowedCpus());
  report.Add("config", "allocator", process_allocator::AllocatorName());
  report.Add("config", "loadavg1_after", load_after);

  report.Add("result", "elapsed_s", seconds);
  report.Add("result", "msgs_per_s", static_cast<double>(outcome.acknowledged) / seconds);
  report.Add("result", "MB_per_s",
             static_cast<double>(outcome.acknowledged * flags.workload.payload_bytes) / seconds / 1e6);
  report.Add("result", "publish_calls", outcome.calls);
  report.AddLatency("latency_", latency);
  report.Add("result", "latency_mean_us", latency.mean_us);

  // Producers' CPU is measured on their own threads; everything else the process used meanwhile
  // is the engine's (the main thread only waits). cpus_used near 2 means both cores were busy.
  const double acked = static_cast<double>(std::max<uint64_t>(outcome.acknowledged, 1));
  report.Add("cpu", "cpu_s", cpu.total_s());
  report.Add("cpu", "cpu_system_s", cpu.system_s);
  report.Add("cpu", "cpus_used", cpu.total_s() / seconds);
  report.Add("cpu", "cpu_us_per_msg", cpu.total_s() * 1e6 / acked);
  report.Add("cpu", "producers_cpu_us_per_msg", outcome.producers_cpu.total_s() * 1e6 / acked);
  report.Add("cpu", "engine_cpu_us_per_msg",
             (cpu.total_s() - outcome.producers_cpu.total_s()) * 1e6 / acked);

  if (embedded != nullptr) {  // brokerd's are in its metrics (--metrics-listen)
    report.Add("write_stats", "commits", commits);
    report.Add("write_stats", "synced_commits", synced_commits);
    report.Add("write_stats", "messages_per_commit", Ratio(messages, commits));
    report.Add("write_stats", "messages_per_synced_commit", Ratio(synced_messages, synced_commits));
    report.Add("write_stats", "calls_per_synced_commit", Ratio(calls, synced_commits));
    report.Add("write_stats", "synced_commits_per_s",
               static_cast<double>(synced_commits) / seconds);
    // The RocksDB write + fsync of a synced commit: with one producer's window in flight, sync
    // throughput cannot exceed window / (this + the commit's CPU time).
    report.Add("write_stats", "sync_write_mean_us",
               Ratio(after.sync_latency.sum_micros - before.sync_latency.sum_micros,
                     synced_commits));
  }

  report.Add("check", "acknowledged", outcome.acknowledged);
  report.Add("check", "end_offset", end_offset);
  report.Add("check", "verified", verified);
  if (!outcome.error.ok()) report.Add("check", "error", outcome.error.ToString());
  if (!describe_error.ok()) report.Add("check", "describe_error", describe_error.ToString());

  report.Print(std::cout, flags.json);
  if (!verified) {
    std::cerr << "brokerbench publish: FAILED: acknowledged " << outcome.acknowledged
              << ", end offset " << end_offset << ", expected " << n << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

void AddPublishCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<PublishFlags>();
  CLI::App* cmd = app.add_subcommand(
      "publish", "W1: durable publish throughput and latency (PublishAsync with a window)");
  cmd->add_option("-n,--messages", flags->workload.messages, "messages in total")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  AddPayloadFlags(*cmd, flags->workload.payload_bytes, flags->workload.payload_mode);
  cmd->add_option("--batch", flags->workload.batch, "messages per PublishAsync call")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--window", flags->workload.window,
                  "most messages in flight (unacknowledged) per producer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--producers", flags->workload.producers, "producer threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  AddTargetFlags(*cmd, flags->target);
  cmd->add_flag("--json", flags->json, "print the report as one JSON object");
  cmd->callback([flags, exit_code] { *exit_code = RunPublish(*flags); });
}

}  // namespace brokerbench
