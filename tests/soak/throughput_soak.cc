// broker_soak: sustained publish + consume through brokerd at a fixed rate for a bounded time
// (default 5,000 msg/s for 5 minutes), reporting every --sample-seconds: throughput in and out,
// end-to-end latency percentiles (publish call to handler, measured from each message's scheduled
// send time, so a producer that falls behind shows as latency rather than hiding it), brokerd's
// RSS and the backlog, and the CPU used by brokerd and by this program (producer and consumer)
// next to the machine's load average, to tell brokerd's stalls from a contended machine. Prints a
// markdown table (docs/reliability.md records a run).
//
//   build/h7-rel/tests/soak/broker_soak                          # 5,000 msg/s for 300 s
//   build/h7-rel/tests/soak/broker_soak --rate 1000 --seconds 20 --sample-seconds 5   # smoke
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin_probe.h"
#include "broker/client/grpc_transport.h"
#include "brokerd_process.h"
#include "soak_support.h"

namespace broker::soak {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Flags {
  int64_t rate = 5000;
  int64_t seconds_to_run = 300;
  int64_t sample_seconds = 10;
  size_t batch = 50;  // messages per publish call: 100 calls/s at 5,000 msg/s
  size_t payload_bytes = 128;
  uint32_t partitions = 4;
  // Handler threads. Each ack is a round trip to brokerd, so one thread settles ~1/RTT messages
  // a second: at 4 threads the consumer kept up with only ~3,100 msg/s on the 2-core test VM.
  uint32_t concurrency = 16;
  uint32_t max_in_flight = 256;
  size_t max_outstanding = 64;  // publish calls awaiting their answer
  std::string durability = "sync";
  std::string data_dir;
  bool keep_data = false;
};

constexpr const char* kTopic = "soak.events";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int64_t Nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The payload starts with the message's scheduled send time (steady clock, nanoseconds).
std::string Payload(Clock::time_point scheduled, size_t bytes) {
  std::string out(std::max<size_t>(bytes, 8), 'x');
  const int64_t ns = Nanos(scheduled);
  std::memcpy(out.data(), &ns, sizeof ns);
  return out;
}

class Soak {
 public:
  explicit Soak(Flags flags) : flags_(std::move(flags)) {}

  int Main() {
    std::string error;
    brokerd_ = testing::BrokerdProcess::Start(
        flags_.data_dir, {"--durability", flags_.durability, "--log-level", "warn"}, &error,
        seconds(60));
    if (!brokerd_) return Fail("brokerd did not start: " + error);
    auto admin = testing::AdminProbe::Connect(brokerd_->address());
    if (Status s = admin->CreateTopic(kTopic, flags_.partitions); !s.ok()) {
      return Fail(s.ToString());
    }
    auto connected = client::ConnectGrpc({.address = brokerd_->address()});
    if (!connected.ok()) return Fail(connected.status().ToString());
    client_ = std::move(connected).value();

    client::ConsumerOptions options;
    options.member = "soak-0";
    options.concurrency = flags_.concurrency;
    options.max_in_flight = flags_.max_in_flight;
    auto consumer = client_->Subscribe(
        kTopic, "soak",
        [this](const client::ReceivedMessage& m) {
          const auto now = Clock::now();
          int64_t sent = 0;
          std::memcpy(&sent, m.record.payload.data(), sizeof sent);
          const auto latency = std::chrono::nanoseconds(Nanos(now) - sent);
          window_.Add(latency);
          all_.Add(latency);
          if (m.attempt > 1) redeliveries_.fetch_add(1);
          consumed_.fetch_add(1);
          { std::lock_guard lock(mu_); }  // so the drain's wait cannot miss this notification
          cv_.notify_all();
        },
        options);
    if (!consumer.ok()) return Fail(consumer.status().ToString());

    std::cout << "broker_soak: " << flags_.rate << " msg/s of " << flags_.payload_bytes
              << " bytes for " << flags_.seconds_to_run << " s, batches of " << flags_.batch << ", "
              << flags_.durability << " durability, " << flags_.partitions
              << " partitions, consumer concurrency " << flags_.concurrency << "\n\n";
    const Table table({"t (s)", "published/s", "consumed/s", "e2e p50 (ms)", "e2e p99 (ms)",
                       "e2e max (ms)", "backlog", "brokerd RSS (MiB)", "brokerd CPU %",
                       "soak CPU %", "load avg"});
    std::cout << table.Header() << std::endl;

    const auto began = Clock::now();
    std::thread producer([this, began] { Produce(began); });
    std::thread reaper([this] { Reap(); });
    uint64_t published_before = 0;
    uint64_t consumed_before = 0;
    double brokerd_cpu_before = CpuSeconds(brokerd_->pid());
    double own_cpu_before = CpuSeconds(::getpid());
    int64_t min_rss = INT64_MAX;
    int64_t max_rss = 0;
    for (int64_t t = flags_.sample_seconds; t <= flags_.seconds_to_run;
         t += flags_.sample_seconds) {
      std::this_thread::sleep_until(began + seconds(t));  // the reporting period
      (void)brokerd_->Output();
      const uint64_t published = acknowledged_.load();
      const uint64_t consumed = consumed_.load();
      const std::vector<int64_t> window = window_.Take();
      const int64_t rss = ProcStatusKib(brokerd_->pid(), "VmRSS");
      min_rss = std::min(min_rss, rss);
      max_rss = std::max(max_rss, rss);
      const double period = static_cast<double>(flags_.sample_seconds);
      const double brokerd_cpu = CpuSeconds(brokerd_->pid());
      const double own_cpu = CpuSeconds(::getpid());
      std::cout << table.Row({std::to_string(t),
                              Fixed(static_cast<double>(published - published_before) / period, 0),
                              Fixed(static_cast<double>(consumed - consumed_before) / period, 0),
                              Fixed(PercentileMs(window, 0.50), 2),
                              Fixed(PercentileMs(window, 0.99), 2),
                              Fixed(PercentileMs(window, 1.0), 2),
                              std::to_string(published > consumed ? published - consumed : 0),
                              Fixed(Mib(rss), 1),
                              Fixed(100 * (brokerd_cpu - brokerd_cpu_before) / period, 0),
                              Fixed(100 * (own_cpu - own_cpu_before) / period, 0),
                              Fixed(LoadAverage1(), 1)})
                << std::endl;
      brokerd_cpu_before = brokerd_cpu;
      own_cpu_before = own_cpu;
      published_before = published;
      consumed_before = consumed;
    }
    stop_.store(true);
    producer.join();
    const double elapsed = Seconds(Clock::now() - began);
    {
      std::lock_guard lock(mu_);
      producer_done_ = true;
    }
    cv_.notify_all();
    reaper.join();

    // Let the consumer catch up with what was published, then summarise.
    const auto drain_deadline = Clock::now() + seconds(120);
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, drain_deadline,
                     [&] { return consumed_.load() >= acknowledged_.load(); });
    }
    (void)(*consumer)->Close(seconds(30));
    const std::vector<int64_t> all = all_.Take();
    std::cout << "\nsummary: published " << acknowledged_.load() << " in " << Fixed(elapsed, 1)
              << " s (" << Fixed(static_cast<double>(acknowledged_.load()) / elapsed, 0)
              << " msg/s), consumed " << consumed_.load() << ", redeliveries "
              << redeliveries_.load() << ", publish errors " << publish_errors_.load()
              << "; end-to-end latency p50 " << Fixed(PercentileMs(all, 0.50), 2) << " ms, p99 "
              << Fixed(PercentileMs(all, 0.99), 2) << " ms, p99.9 "
              << Fixed(PercentileMs(all, 0.999), 2) << " ms, max "
              << Fixed(PercentileMs(all, 1.0), 2) << " ms; brokerd RSS " << Fixed(Mib(min_rss), 1)
              << "-" << Fixed(Mib(max_rss), 1) << " MiB (peak "
              << Fixed(Mib(ProcStatusKib(brokerd_->pid(), "VmHWM")), 1) << " MiB)\n";
    client_.reset();
    const int exit_code = brokerd_->Stop(seconds(60));
    const bool complete = consumed_.load() >= acknowledged_.load() && publish_errors_.load() == 0;
    if (!complete) std::cerr << "broker_soak: not everything published was consumed\n";
    return exit_code == 0 && complete ? 0 : 1;
  }

 private:
  int Fail(const std::string& what) {
    std::cerr << "broker_soak: " << what << "\n";
    if (brokerd_) std::cerr << "brokerd output:\n" << brokerd_->Output() << "\n";
    return 1;
  }

  // Publishes batch k at began + k * batch / rate, without waiting for answers (the reaper does),
  // as long as fewer than max_outstanding calls are unanswered.
  void Produce(Clock::time_point began) {
    const auto period = std::chrono::nanoseconds(1'000'000'000LL *
                                                 static_cast<int64_t>(flags_.batch) / flags_.rate);
    for (uint64_t k = 0; !stop_.load(); ++k) {
      const auto scheduled = began + period * k;
      std::this_thread::sleep_until(scheduled);  // the fixed rate
      std::vector<Message> batch(flags_.batch);
      for (auto& m : batch) m.payload = Payload(scheduled, flags_.payload_bytes);
      auto answer = client_->PublishBatch(kTopic, std::move(batch));
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return outstanding_.size() < flags_.max_outstanding; });
      outstanding_.push_back(std::move(answer));
      cv_.notify_all();
    }
  }

  void Reap() {
    for (;;) {
      std::future<Result<std::vector<PublishResult>>> next;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !outstanding_.empty() || producer_done_; });
        if (outstanding_.empty()) return;
        next = std::move(outstanding_.front());
        outstanding_.pop_front();
        cv_.notify_all();
      }
      auto answer = next.get();
      if (answer.ok()) {
        acknowledged_.fetch_add(answer->size());
      } else {
        publish_errors_.fetch_add(1);
        std::cerr << "publish failed: " << answer.status().ToString() << "\n";
      }
    }
  }

  const Flags flags_;
  std::optional<testing::BrokerdProcess> brokerd_;
  std::unique_ptr<client::Client> client_;
  LatencyWindow window_;
  LatencyWindow all_;
  std::atomic<uint64_t> acknowledged_{0};
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> redeliveries_{0};
  std::atomic<uint64_t> publish_errors_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::future<Result<std::vector<PublishResult>>>> outstanding_;  // guarded by mu_
  bool producer_done_ = false;                                               // guarded by mu_
};

}  // namespace
}  // namespace broker::soak

int main(int argc, char** argv) {
  broker::soak::Flags flags;
  CLI::App app{"broker_soak: sustained publish+consume through brokerd at a fixed rate",
               "broker_soak"};
  app.add_option("--rate", flags.rate, "Messages per second")->capture_default_str();
  app.add_option("--seconds", flags.seconds_to_run, "How long to publish")->capture_default_str();
  app.add_option("--sample-seconds", flags.sample_seconds, "Seconds per table row")
      ->capture_default_str();
  app.add_option("--batch", flags.batch, "Messages per publish call")->capture_default_str();
  app.add_option("--payload-bytes", flags.payload_bytes, "Payload size (at least 8)")
      ->capture_default_str();
  app.add_option("--partitions", flags.partitions, "Partitions of the topic")
      ->capture_default_str();
  app.add_option("--concurrency", flags.concurrency, "Consumer handler threads")
      ->capture_default_str();
  app.add_option("--max-in-flight", flags.max_in_flight, "Consumer max_in_flight")
      ->capture_default_str();
  app.add_option("--durability", flags.durability, "brokerd --durability")
      ->check(CLI::IsMember({"sync", "async"}))
      ->capture_default_str();
  app.add_option("--data-dir", flags.data_dir, "Data directory (default: a fresh temp dir)");
  app.add_flag("--keep-data", flags.keep_data, "Keep the data directory afterwards");
  CLI11_PARSE(app, argc, argv);
  if (flags.rate <= 0 || flags.batch == 0 || flags.sample_seconds <= 0) {
    std::cerr << "broker_soak: --rate, --batch and --sample-seconds must be positive\n";
    return 2;
  }

  bool made_dir = false;
  if (flags.data_dir.empty()) {
    flags.data_dir =
        (std::filesystem::temp_directory_path() / ("broker-soak-" + std::to_string(::getpid())))
            .string();
    made_dir = true;
  }
  std::filesystem::create_directories(flags.data_dir);
  const int rc = broker::soak::Soak(flags).Main();
  if (made_dir && !flags.keep_data) std::filesystem::remove_all(flags.data_dir);
  return rc;
}
