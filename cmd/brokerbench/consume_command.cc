#include "consume_command.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "process_allocator.h"
#include "bench_target.h"
#include "cpu_usage.h"
#include "latency_summary.h"
#include "payload.h"
#include "report.h"
#include "system_load.h"

namespace brokerbench {
namespace {

using Clock = std::chrono::steady_clock;

struct ConsumeFlags {
  TargetFlags target;
  uint64_t messages = 1000000;
  size_t payload = 128;
  PayloadMode payload_mode = PayloadMode::kRandom;
  uint32_t consumers = 1;
  uint32_t poll_batch = 100;  // as the peers' BATCH
  uint32_t max_in_flight = 1000;
  // "subscription": each member polls a Subscription and acks each delivery itself (the peers'
  // shape). "consumer": each member is a client::Consumer with a handler that returns at once
  // (acked by the consumer), so its lease management and prefetch are what is measured.
  std::string api = "subscription";
  uint32_t concurrency = 1;  // consumer api: handler threads per member
  uint32_t prefetch = 0;     // consumer api: ConsumerOptions::prefetch (0 = automatic)
  double rate = 0;  // msgs/s published during consumption; 0: pre-publish all
  int server_pid = 0;  // brokerd's, to report its CPU over the consume phase; 0: none
  bool json = false;
};

broker::Status PrePublish(broker::client::Transport& transport, const std::string& topic,
                          uint64_t count, PayloadSource& payloads) {
  constexpr uint64_t kBatch = 1000;
  std::vector<std::future<broker::Status>> pending;
  for (uint64_t sent = 0; sent < count; sent += kBatch) {
    std::vector<broker::Message> batch(std::min(kBatch, count - sent));
    for (broker::Message& m : batch) m.payload = payloads.Next();
    auto promise = std::make_shared<std::promise<broker::Status>>();
    pending.push_back(promise->get_future());
    broker::PublishOptions options;
    options.durability = broker::Durability::kAsync;
    transport.Publish(topic, std::move(batch), options,
                      [promise](broker::Result<std::vector<broker::PublishResult>> r) {
                        promise->set_value(r.status());
                      });
    if (pending.size() >= 16) {
      if (broker::Status s = pending.front().get(); !s.ok()) return s;
      pending.erase(pending.begin());
    }
  }
  for (auto& p : pending) {
    if (broker::Status s = p.get(); !s.ok()) return s;
  }
  return broker::Status::Ok();
}

// What both ways of consuming share: the run's settings, its target and where results go.
struct ConsumePhase {
  const ConsumeFlags& flags;
  const BenchTarget& target;
  const std::string& topic;
  std::atomic<bool>& failed;
  std::mutex& latencies_mu;
  std::vector<uint64_t>& latencies_ns;
};

uint64_t SinceAppendNs(const broker::Record& record) {
  return static_cast<uint64_t>(std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now() -
                                                              record.timestamp)
             .count()));
}

// Starts the members polling Subscriptions; the returned function waits until they have acked
// every message (or failed) and returns the acks.
std::function<uint64_t()> RunSubscriptions(ConsumePhase& phase) {
  auto acked = std::make_shared<std::atomic<uint64_t>>(0);
  auto consumers = std::make_shared<std::vector<std::thread>>();
  const ConsumeFlags& flags = phase.flags;
  for (uint32_t c = 0; c < flags.consumers; ++c) {
    consumers->emplace_back([&phase, &flags, acked, c] {
      std::atomic<bool>& failed = phase.failed;
      auto transport = phase.target.NewTransport(c);
      if (!transport.ok()) {
        failed = true;
        return;
      }
      broker::SubscribeOptions options;
      options.member = "bench-" + std::to_string(c);
      options.max_in_flight = flags.max_in_flight;
      auto sub = (*transport)->Subscribe(phase.topic, "bench", options);
      if (!sub.ok()) {
        std::cerr << "subscribe: " << sub.status().ToString() << "\n";
        failed = true;
        return;
      }
      std::vector<uint64_t> local;
      while (acked->load() < flags.messages && !failed.load()) {
        auto got = (*sub)->Poll(flags.poll_batch, std::chrono::milliseconds(50));
        if (!got.ok()) continue;
        for (const broker::Delivery& d : *got) {
          if (flags.rate > 0) local.push_back(SinceAppendNs(d.record));
          // Each message acked on its own; the transport may pipeline them (gRPC sends the
          // acks queued behind a frame in flight in one frame), as the peers pipeline theirs.
          (*sub)->AckAsync(d.record.partition, d.record.offset, [acked, &failed](broker::Status s) {
            if (s.ok()) {
              acked->fetch_add(1);
            } else if (!failed.exchange(true)) {
              std::cerr << "ack: " << s.ToString() << "\n";
            }
          });
        }
      }
      std::lock_guard lock(phase.latencies_mu);
      phase.latencies_ns.insert(phase.latencies_ns.end(), local.begin(), local.end());
    });
  }
  return [consumers, acked] {
    for (auto& t : *consumers) t.join();
    return acked->load();
  };
}

// Starts one client::Consumer per member, each with a handler that returns at once (so the
// consumer acks); the returned function waits until every message was handled and every handled
// message acked (or a deadline passes) and returns the acks.
std::function<uint64_t()> RunConsumers(ConsumePhase& phase) {
  struct Shared {
    std::mutex mu;
    std::condition_variable all_handled;
    uint64_t handled = 0;
    // Per member. Declared before the consumers so it outlives them: a consumer stops its
    // handlers when it is destroyed, and a handler still running then counts here.
    std::vector<std::unique_ptr<std::atomic<uint64_t>>> handled_by;
    std::vector<std::unique_ptr<broker::client::Client>> clients;
    std::vector<std::unique_ptr<broker::client::Consumer>> consumers;
  };
  auto shared = std::make_shared<Shared>();
  const ConsumeFlags& flags = phase.flags;
  for (uint32_t c = 0; c < flags.consumers && !phase.failed.load(); ++c) {
    auto transport = phase.target.NewTransport(c);
    if (!transport.ok()) {
      std::cerr << "brokerbench consume: " << transport.status().ToString() << "\n";
      phase.failed = true;
      break;
    }
    shared->clients.push_back(broker::client::Client::Connect(std::move(transport).value()));
    shared->handled_by.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    std::atomic<uint64_t>* mine = shared->handled_by.back().get();
    broker::client::ConsumerOptions options;
    options.member = "bench-" + std::to_string(c);
    options.concurrency = flags.concurrency;
    options.prefetch = flags.prefetch;
    options.max_in_flight = flags.max_in_flight;
    Shared* s = shared.get();
    auto consumer = shared->clients.back()->Subscribe(
        phase.topic, "bench",
        [s, mine, &phase](const broker::client::ReceivedMessage& m) {
          if (phase.flags.rate > 0) {
            const uint64_t ns = SinceAppendNs(m.record);
            std::lock_guard lock(phase.latencies_mu);
            phase.latencies_ns.push_back(ns);
          }
          mine->fetch_add(1);
          std::lock_guard lock(s->mu);
          if (++s->handled >= phase.flags.messages) s->all_handled.notify_all();
        },
        options);
    if (!consumer.ok()) {
      std::cerr << "subscribe: " << consumer.status().ToString() << "\n";
      phase.failed = true;
      break;
    }
    shared->consumers.push_back(std::move(consumer).value());
  }
  return [shared, &phase] {
    constexpr auto kDeadline = std::chrono::minutes(10);
    {
      std::unique_lock lock(shared->mu);
      if (!phase.failed.load() &&
          !shared->all_handled.wait_for(lock, kDeadline,
                                        [&] { return shared->handled >= phase.flags.messages; })) {
        std::cerr << "brokerbench consume: only " << shared->handled << " messages handled in "
                  << "10 minutes\n";
        phase.failed = true;
      }
    }
    uint64_t acked = 0;
    for (size_t i = 0; i < shared->consumers.size(); ++i) {
      const uint64_t handled = shared->handled_by[i]->load();
      broker::client::Consumer& consumer = *shared->consumers[i];
      if (!consumer.WaitForStats([handled](const broker::client::ConsumerStats& s) {
            return s.acked + s.nacked >= handled;
          }, kDeadline)) {
        phase.failed = true;
      }
      acked += consumer.stats().acked;
    }
    return acked;
  };
}

int Run(const ConsumeFlags& flags) {
  auto target = BenchTarget::Open(flags.target);
  if (!target.ok()) {
    std::cerr << "brokerbench consume: " << target.status().ToString() << "\n";
    return 1;
  }
  const std::string topic = FreshTopicName("consume");
  PayloadSource payloads(flags.payload_mode, flags.payload);
  auto publisher = (*target)->NewTransport();
  if (!publisher.ok()) {
    std::cerr << "brokerbench consume: " << publisher.status().ToString() << "\n";
    return 1;
  }
  const double load = LoadAverage1();
  if (flags.rate <= 0) {
    if (broker::Status s = PrePublish(**publisher, topic, flags.messages, payloads); !s.ok()) {
      std::cerr << "brokerbench consume: publishing failed: " << s.ToString() << "\n";
      return 1;
    }
  }

  std::atomic<bool> failed{false};
  std::mutex latencies_mu;
  std::vector<uint64_t> latencies_ns;
  CpuTime server_before;
  const bool server_cpu =
      flags.server_pid > 0 && OtherProcessCpuTime(flags.server_pid, server_before);
  const CpuTime cpu_before = ProcessCpuTime();
  const auto started = Clock::now();
  ConsumePhase phase{flags, **target, topic, failed, latencies_mu, latencies_ns};
  std::function<uint64_t()> finish =
      flags.api == "consumer" ? RunConsumers(phase) : RunSubscriptions(phase);
  if (flags.rate > 0) {  // steady-rate publisher, one message per tick, paced by the clock
    const auto interval = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / flags.rate));
    auto next = Clock::now();
    for (uint64_t i = 0; i < flags.messages && !failed.load(); ++i) {
      std::this_thread::sleep_until(next);  // pacing the load generator, not waiting on a result
      next += interval;
      std::vector<broker::Message> one(1, broker::Message{.payload = payloads.Next()});
      (*publisher)->Publish(topic, std::move(one), {}, [&failed](auto r) {
        if (!r.ok()) failed = true;
      });
    }
  }
  const uint64_t acked = finish();
  (*target)->FlushAcks();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const CpuTime cpu = ProcessCpuTime() - cpu_before;
  CpuTime server_after;
  const bool server_cpu_read =
      server_cpu && OtherProcessCpuTime(flags.server_pid, server_after);
  if (failed.load() || acked < flags.messages) {
    std::cerr << "brokerbench consume: failed after " << acked << " acks\n";
    return 1;
  }

  Report report;
  report.Add("config", "workload", std::string("W2 consume+ack"));
  report.Add("config", "transport", (*target)->mode());
  report.Add("config", "messages", flags.messages);
  report.Add("config", "payload_bytes", static_cast<uint64_t>(flags.payload));
  report.Add("config", "payload_mode", std::string(PayloadModeName(flags.payload_mode)));
  report.Add("config", "consumers", static_cast<uint64_t>(flags.consumers));
  report.Add("config", "api", flags.api);
  if (flags.api == "consumer") {
    report.Add("config", "concurrency", static_cast<uint64_t>(flags.concurrency));
    report.Add("config", "prefetch", static_cast<uint64_t>(flags.prefetch));
    report.Add("config", "max_in_flight", static_cast<uint64_t>(flags.max_in_flight));
  } else {
    report.Add("config", "poll_batch", static_cast<uint64_t>(flags.poll_batch));
  }
  report.Add("config", "publish_rate", flags.rate);
  report.Add("config", "loadavg1_before", load);
  report.Add("config", "cpus", AllowedCpus());
  report.Add("config", "allocator", process_allocator::AllocatorName());
  report.Add("result", "seconds", seconds);
  report.Add("result", "msgs_per_s", static_cast<double>(flags.messages) / seconds);
  // The consume phase only (pre-publishing excluded). Over gRPC this process is the client; embedded
  // it is client and engine together.
  const double per_msg = 1e6 / static_cast<double>(flags.messages);
  report.Add("cpu", "cpu_us_per_msg", cpu.total_s() * per_msg);
  report.Add("cpu", "cpu_system_us_per_msg", cpu.system_s * per_msg);
  if (server_cpu_read) {
    const CpuTime server = server_after - server_before;
    report.Add("cpu", "server_cpu_us_per_msg", server.total_s() * per_msg);
    report.Add("cpu", "server_cpu_system_us_per_msg", server.system_s * per_msg);
  }
  report.Add("config", "loadavg1_after", LoadAverage1());
  if (flags.rate > 0) {
    const LatencySummary l = Summarize(latencies_ns);
    report.AddLatency("e2e_", l);
  }
  report.Print(std::cout, flags.json);
  return 0;
}

}  // namespace

void AddConsumeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ConsumeFlags>();
  CLI::App* command = app.add_subcommand("consume", "W2: consume and ack each message");
  AddTargetFlags(*command, flags->target);
  command->add_option("--messages,-n", flags->messages, "messages to consume")
      ->capture_default_str();
  AddPayloadFlags(*command, flags->payload, flags->payload_mode);
  command->add_option("--consumers", flags->consumers, "members of the group")
      ->capture_default_str();
  command->add_option("--poll-batch", flags->poll_batch, "deliveries per poll")
      ->capture_default_str();
  command->add_option("--max-in-flight", flags->max_in_flight, "per member")->capture_default_str();
  command->add_option("--api", flags->api,
                      "subscription: poll and ack each delivery; consumer: a client::Consumer "
                      "whose handler returns at once")
      ->check(CLI::IsMember({"subscription", "consumer"}))
      ->capture_default_str();
  command->add_option("--concurrency", flags->concurrency, "consumer api: handler threads")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  command->add_option("--prefetch", flags->prefetch,
                      "consumer api: ConsumerOptions::prefetch (0 = automatic)")
      ->capture_default_str();
  command->add_option("--rate", flags->rate,
                      "publish at this rate during consumption and report end-to-end latency");
  command->add_option("--server-pid", flags->server_pid,
                      "brokerd's process id: also report its CPU per message (consume phase)");
  command->add_flag("--json", flags->json, "one JSON object");
  command->callback([flags, exit_code] { *exit_code = Run(*flags); });
}

}  // namespace brokerbench
