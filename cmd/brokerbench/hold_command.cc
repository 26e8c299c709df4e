#include "hold_command.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "process_allocator.h"
#include "bench_target.h"
#include "cpu_usage.h"
#include "report.h"
#include "system_load.h"

namespace brokerbench {
namespace {

using Clock = std::chrono::steady_clock;

// Messages one member holds: at most one gRPC delivery frame (rpc/limits.h).
constexpr uint32_t kHeldPerMember = 250;

struct HoldFlags {
  TargetFlags target;
  uint32_t held = 1000;
  double seconds = 60;
  uint32_t ack_timeout_ms = 30000;  // the group default
  size_t payload = 128;
  int server_pid = 0;
  bool json = false;
};

// Opens the handlers' gate at the end of the run (the handler "takes" that long).
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

int Run(const HoldFlags& flags) {
  if (flags.held < 1 || flags.seconds <= 0) {
    std::cerr << "brokerbench hold: --held must be at least 1 and --seconds positive\n";
    return 2;
  }
  auto target = BenchTarget::Open(flags.target);
  if (!target.ok()) {
    std::cerr << "brokerbench hold: " << target.status().ToString() << "\n";
    return 1;
  }
  const std::string topic = FreshTopicName("hold");
  auto client = (*target)->NewClient();
  if (client == nullptr) {
    std::cerr << "brokerbench hold: cannot connect\n";
    return 1;
  }
  const double load = LoadAverage1();
  std::vector<broker::Message> batch(flags.held);
  for (broker::Message& m : batch) m.payload = std::string(flags.payload, 'h');
  if (auto r = client->PublishBatch(topic, std::move(batch)).get(); !r.ok()) {
    std::cerr << "brokerbench hold: publishing failed: " << r.status().ToString() << "\n";
    return 1;
  }

  // One worker polls and then blocks in its handler, so a consumer holds what its first Poll
  // brought: over gRPC at most one delivery frame (256). Enough members share --held.
  const uint32_t members = (flags.held + kHeldPerMember - 1) / kHeldPerMember;
  Gate gate;
  std::vector<std::unique_ptr<broker::client::Consumer>> consumers;
  for (uint32_t m = 0; m < members; ++m) {
    const uint32_t share = flags.held / members + (m < flags.held % members ? 1 : 0);
    broker::client::ConsumerOptions options;
    options.member = "hold-" + std::to_string(m);
    options.concurrency = 1;
    options.prefetch = std::max<uint32_t>(share - 1, 1);  // 0 would mean automatic
    options.max_in_flight = share;
    options.group.ack_timeout = std::chrono::milliseconds(flags.ack_timeout_ms);
    auto consumer = client->Subscribe(
        topic, "hold",
        [&gate](const broker::client::ReceivedMessage&) {
          gate.Wait();  // a slow handler: every message stays held until the run ends
        },
        options);
    if (!consumer.ok()) {
      std::cerr << "brokerbench hold: subscribe: " << consumer.status().ToString() << "\n";
      gate.Open();
      return 1;
    }
    if (!(*consumer)->WaitForStats([&](const auto& s) { return s.delivered >= share; },
                                   std::chrono::minutes(2))) {
      std::cerr << "brokerbench hold: member " << m << " leased only "
                << (*consumer)->stats().delivered << " of " << share << " within 2 minutes\n";
      gate.Open();
      return 1;
    }
    consumers.push_back(std::move(consumer).value());
  }
  auto total = [&consumers] {
    broker::client::ConsumerStats sum;
    for (const auto& c : consumers) {
      const auto s = c->stats();
      sum.delivered += s.delivered;
      sum.lease_extensions += s.lease_extensions;
      sum.leases_lost += s.leases_lost;
    }
    return sum;
  };

  const auto before = total();
  CpuTime server_before;
  const bool server_cpu =
      flags.server_pid > 0 && OtherProcessCpuTime(flags.server_pid, server_before);
  const CpuTime cpu_before = ProcessCpuTime();
  const auto started = Clock::now();
  // The measured interval: nothing to wait for but the clock (the lease keepers work meanwhile).
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const CpuTime cpu = ProcessCpuTime() - cpu_before;
  CpuTime server_after;
  const bool server_cpu_read = server_cpu && OtherProcessCpuTime(flags.server_pid, server_after);
  const auto after = total();
  gate.Open();
  for (auto& c : consumers) (void)c->Close(std::chrono::seconds(10));

  // CPU milliseconds per 1,000 held messages per minute.
  const double scale = 1000.0 / flags.held * 60.0 / seconds * 1e3;
  Report report;
  report.Add("config", "workload", std::string("hold (lease keeping)"));
  report.Add("config", "transport", (*target)->mode());
  report.Add("config", "held", static_cast<uint64_t>(flags.held));
  report.Add("config", "members", static_cast<uint64_t>(members));
  report.Add("config", "ack_timeout_ms", static_cast<uint64_t>(flags.ack_timeout_ms));
  report.Add("config", "loadavg1_before", load);
  report.Add("config", "loadavg1_after", LoadAverage1());
  report.Add("config", "cpus", AllowedCpus());
  report.Add("config", "allocator", process_allocator::AllocatorName());
  report.Add("result", "seconds", seconds);
  report.Add("result", "lease_extensions", after.lease_extensions - before.lease_extensions);
  report.Add("result", "leases_lost", after.leases_lost);
  report.Add("result", "redelivered", after.delivered - flags.held);
  report.Add("cpu", "cpu_ms_per_1000_held_per_min", cpu.total_s() * scale);
  if (server_cpu_read) {
    report.Add("cpu", "server_cpu_ms_per_1000_held_per_min",
               (server_after - server_before).total_s() * scale);
  }
  report.Print(std::cout, flags.json);
  return after.leases_lost == 0 ? 0 : 1;
}

}  // namespace

void AddHoldCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<HoldFlags>();
  CLI::App* command =
      app.add_subcommand("hold", "lease keeping: CPU to keep --held messages leased");
  AddTargetFlags(*command, flags->target);
  command->add_option("--held", flags->held, "messages held by the consumer (max_in_flight)")
      ->capture_default_str();
  command->add_option("--seconds", flags->seconds, "measured interval")->capture_default_str();
  command
      ->add_option("--ack-timeout-ms", flags->ack_timeout_ms,
                   "the group's ack_timeout (leases are extended at half of it)")
      ->capture_default_str();
  command->add_option("--payload", flags->payload, "bytes per message")->capture_default_str();
  command->add_option("--server-pid", flags->server_pid,
                      "brokerd's process id: also report its CPU");
  command->add_flag("--json", flags->json, "one JSON object");
  command->callback([flags, exit_code] { *exit_code = Run(*flags); });
}

}  // namespace brokerbench
