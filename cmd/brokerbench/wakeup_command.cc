#include "wakeup_command.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "latency_summary.h"
#include "report.h"
#include "process_allocator.h"
#include "system_load.h"

namespace brokerbench {
namespace {

struct WakeupFlags {
  uint64_t round_trips = 20000;
  bool json = false;
};

int Run(const WakeupFlags& flags) {
  std::mutex mu;
  std::condition_variable to_responder, to_requester;
  bool responder_turn = false;  // guarded by mu
  const uint64_t total = flags.round_trips;
  const uint64_t warmup = std::min<uint64_t>(total / 10, 1000);
  const double load = LoadAverage1();

  std::thread responder([&] {
    for (uint64_t i = 0; i < total; ++i) {
      std::unique_lock lock(mu);
      to_responder.wait(lock, [&] { return responder_turn; });
      responder_turn = false;
      lock.unlock();
      to_requester.notify_one();
    }
  });
  std::vector<uint64_t> samples_ns;
  samples_ns.reserve(total);
  const auto started = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < total; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu);
      responder_turn = true;
    }
    to_responder.notify_one();
    {
      std::unique_lock lock(mu);
      to_requester.wait(lock, [&] { return !responder_turn; });
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= warmup) {
      samples_ns.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  responder.join();

  const LatencySummary l = Summarize(samples_ns);
  Report report;
  report.Add("config", "workload", std::string("wake-up floor: condition-variable ping-pong"));
  report.Add("config", "round_trips", total);
  report.Add("config", "warmup", warmup);
  report.Add("config", "loadavg1_before", load);
  report.Add("config", "cpus", AllowedCpus());
  report.Add("config", "allocator", process_allocator::AllocatorName());
  report.Add("result", "round_trips_per_s", static_cast<double>(total) / seconds);
  report.AddLatency("", l);
  report.Print(std::cout, flags.json);
  return 0;
}

}  // namespace

void AddWakeupCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<WakeupFlags>();
  CLI::App* command = app.add_subcommand(
      "wakeup", "the floor under W3: two sleeping threads passing a turn back and forth");
  command->add_option("--round-trips,-n", flags->round_trips, "round trips in total")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--json", flags->json, "one JSON object");
  command->callback([flags, exit_code] { *exit_code = Run(*flags); });
}

}  // namespace brokerbench
