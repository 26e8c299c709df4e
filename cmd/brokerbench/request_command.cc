#include "request_command.h"

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "process_allocator.h"
#include "bench_target.h"
#include "latency_summary.h"
#include "payload.h"
#include "report.h"
#include "system_load.h"

namespace brokerbench {
namespace {

using Clock = std::chrono::steady_clock;

struct RequestFlags {
  TargetFlags target;
  uint64_t requests = 20000;
  size_t payload = 128;
  uint32_t requesters = 1;
  bool json = false;
};

int Run(const RequestFlags& flags) {
  auto target = BenchTarget::Open(flags.target);
  if (!target.ok()) {
    std::cerr << "brokerbench request: " << target.status().ToString() << "\n";
    return 1;
  }
  const std::string topic = FreshTopicName("request");
  const std::string payload = RandomPayload(flags.payload);
  auto responder_client = (*target)->NewClient();
  auto requester_client = (*target)->NewClient();
  if (!responder_client || !requester_client) {
    std::cerr << "brokerbench request: cannot connect\n";
    return 1;
  }
  broker::client::ConsumerOptions serve_options;
  serve_options.concurrency = std::max<uint32_t>(1, flags.requesters);
  auto responder = responder_client->Serve(
      topic, "responders",
      [](const broker::client::ReceivedMessage& request) {
        return broker::client::Reply{request.record.payload, {}};
      },
      serve_options);
  if (!responder.ok()) {
    std::cerr << "brokerbench request: serve failed: " << responder.status().ToString() << "\n";
    return 1;
  }
  const double load = LoadAverage1();
  const uint64_t warmup = std::min<uint64_t>(flags.requests / 10, 1000);
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex samples_mu;
  std::vector<uint64_t> samples_ns;
  Clock::time_point measured_start{};
  std::atomic<bool> measuring{false};
  std::mutex start_mu;
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < flags.requesters; ++t) {
    threads.emplace_back([&] {
      std::vector<uint64_t> local;
      for (;;) {
        const uint64_t i = next.fetch_add(1);
        if (i >= flags.requests || failed.load()) break;
        if (i == warmup) {
          std::lock_guard lock(start_mu);
          measured_start = Clock::now();
          measuring = true;
        }
        const auto start = Clock::now();
        auto reply = requester_client->Request(topic, payload, std::chrono::seconds(10)).get();
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
        if (!reply.ok() || reply->payload != payload) {
          std::cerr << "request failed: " << reply.status().ToString() << "\n";
          failed = true;
          break;
        }
        if (i >= warmup) local.push_back(static_cast<uint64_t>(ns.count()));
      }
      std::lock_guard lock(samples_mu);
      samples_ns.insert(samples_ns.end(), local.begin(), local.end());
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - measured_start).count();
  (void)(*responder)->Close();
  if (failed.load()) return 1;
  const LatencySummary l = Summarize(samples_ns);

  Report report;
  report.Add("config", "workload", std::string("W3 request-reply"));
  report.Add("config", "transport", (*target)->mode());
  report.Add("config", "requests", flags.requests);
  report.Add("config", "warmup", warmup);
  report.Add("config", "requesters", static_cast<uint64_t>(flags.requesters));
  report.Add("config", "payload_bytes", static_cast<uint64_t>(flags.payload));
  report.Add("config", "loadavg1_before", load);
  report.Add("config", "cpus", AllowedCpus());
  report.Add("config", "allocator", process_allocator::AllocatorName());
  report.Add("result", "requests_per_s", static_cast<double>(l.count) / seconds);
  report.AddLatency("", l);
  report.Print(std::cout, flags.json);
  return 0;
}

}  // namespace

void AddRequestCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RequestFlags>();
  CLI::App* command = app.add_subcommand("request", "W3: request-reply round trips");
  AddTargetFlags(*command, flags->target);
  command->add_option("--requests,-n", flags->requests, "requests in total")->capture_default_str();
  command->add_option("--payload", flags->payload, "payload bytes")->capture_default_str();
  command->add_option("--requesters", flags->requesters, "concurrent requesters")
      ->capture_default_str();
  command->add_flag("--json", flags->json, "one JSON object");
  command->callback([flags, exit_code] { *exit_code = Run(*flags); });
}

}  // namespace brokerbench
