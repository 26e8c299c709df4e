// broker_memory_soak: how much resident memory brokerd needs
//   1. with a large backlog (default 10 million 128-byte messages, published through the gRPC
//      client in batches, async durability), while filling and after a restart;
//   2. with many unacked in-flight messages (a consumer group member with max_in_flight 10,000
//      whose handler never settles);
//   3. while a producer keeps publishing and a slow consumer falls behind: credits bound what
//      brokerd hands out, so its RSS must stay bounded while the backlog grows, as in the
//      control run of the same producer with no consumer at all.
// It starts its own brokerd (the release build's, or $BROKERD_BIN), reads VmRSS/VmHWM from
// /proc/<pid>/status, and prints markdown tables (docs/reliability.md records a run).
//
//   build/h7-rel/tests/soak/broker_memory_soak                 # the full run, ~10 minutes
//   build/h7-rel/tests/soak/broker_memory_soak --messages 200000 --slow-seconds 10   # smoke
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <condition_variable>
#include <mutex>
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
  uint64_t messages = 10'000'000;
  size_t batch = 1000;
  size_t pipeline = 4;  // batches in flight while filling
  size_t payload_bytes = 128;
  uint32_t partitions = 4;
  uint32_t in_flight = 10'000;
  int64_t sample_seconds = 10;
  // The slow-consumer phase and its control each last this long. At 20,000 msg/s RocksDB's
  // 64 MiB memtables fill and flush several times, so a bound shows rather than a ramp.
  int64_t slow_seconds = 180;
  int64_t slow_rate = 20000;     // messages per second published during those phases
  int64_t slow_handler_ms = 10;  // per message: the consumer does ~100 msg/s
  uint32_t slow_max_in_flight = 256;
  std::string data_dir;
  bool keep_data = false;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// 128 (or --payload-bytes) bytes that do not compress: the sequence number, then noise.
std::string Payload(uint64_t seq, size_t bytes, std::mt19937_64& rng) {
  std::string out(bytes, '\0');
  for (size_t i = 0; i < bytes; i += 8) {
    const uint64_t word = i == 0 ? seq : rng();
    for (size_t j = 0; j < 8 && i + j < bytes; ++j) out[i + j] = static_cast<char>(word >> (8 * j));
  }
  return out;
}

// The end of a phase. The slow consumer's simulated work and the producer's fixed-rate pacing wait
// on it with their own deadlines, so both end as soon as the phase does rather than finishing the
// wait they are in.
class PhaseStop {
 public:
  void Request() {
    {
      std::lock_guard lock(mu_);
      requested_ = true;
    }
    cv_.notify_all();
  }
  bool requested() const {
    std::lock_guard lock(mu_);
    return requested_;
  }
  // Waits until `deadline` or the stop, whichever comes first; true if the phase stopped.
  bool WaitUntil(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [this] { return requested_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;  // guarded by mu_
};

class Run {
 public:
  explicit Run(Flags flags) : flags_(std::move(flags)) {}

  int Main() {
    if (!StartBrokerd("127.0.0.1:0")) return 1;
    address_ = brokerd_->address();
    admin_ = testing::AdminProbe::Connect(address_, seconds(30));
    auto connected = client::ConnectGrpc({.address = address_, .call_timeout = seconds(60)});
    if (!connected.ok()) return Fail(connected.status().ToString());
    client_ = std::move(connected).value();
    Row("brokerd started, empty", "");

    if (!Fill()) return 1;
    // At rest after a restart: what a brokerd holding this backlog needs.
    if (brokerd_->Stop(seconds(120)) != 0) return Fail("brokerd did not stop cleanly");
    if (!StartBrokerd(address_)) return 1;
    auto records = admin_->TopicRecords(kBacklog);
    if (!records.ok()) return Fail(records.status().ToString());
    Row("restarted with the backlog", std::to_string(*records) + " records retained");

    if (!HoldInFlight()) return 1;
    if (!ProducerPhase(/*with_consumer=*/true)) return 1;
    if (!ProducerPhase(/*with_consumer=*/false)) return 1;

    std::cout << "\n" << phases_.Header() << "\n";
    for (const auto& row : phase_rows_) std::cout << row << "\n";
    client_.reset();
    const int exit_code = brokerd_->Stop(seconds(120));
    std::cout << "\nbrokerd exit code " << exit_code << "\n";
    return exit_code == 0 ? 0 : 1;
  }

 private:
  static constexpr const char* kBacklog = "mem.backlog";
  static constexpr const char* kSlow = "mem.slow";
  static constexpr const char* kControl = "mem.control";

  int Fail(const std::string& what) {
    std::cerr << "broker_memory_soak: " << what << "\n";
    if (brokerd_) std::cerr << "brokerd output:\n" << brokerd_->Output() << "\n";
    return 1;
  }

  bool StartBrokerd(const std::string& listen) {
    std::string error;
    brokerd_ = testing::BrokerdProcess::Start(flags_.data_dir,
                                              {"--durability", "async", "--log-level", "warn"},
                                              &error, seconds(120), listen);
    if (!brokerd_) {
      std::cerr << "broker_memory_soak: brokerd did not start: " << error << "\n";
      return false;
    }
    return true;
  }

  int64_t Rss() { return ProcStatusKib(brokerd_->pid(), "VmRSS"); }
  int64_t Hwm() { return ProcStatusKib(brokerd_->pid(), "VmHWM"); }

  void Row(const std::string& phase, const std::string& notes) {
    (void)brokerd_->Output();  // keep its pipe drained
    phase_rows_.push_back(phases_.Row({phase, Fixed(Mib(Rss()), 1), Fixed(Mib(Hwm()), 1), notes}));
    std::cout << phase_rows_.back() << std::endl;
  }

  bool Fill() {
    if (Status s = admin_->CreateTopic(kBacklog, flags_.partitions); !s.ok()) {
      Fail(s.ToString());
      return false;
    }
    const Table progress({"t (s)", "published", "msg/s (window)", "RSS (MiB)", "peak RSS (MiB)"});
    std::cout << "\nfilling " << flags_.messages << " messages of " << flags_.payload_bytes
              << " bytes, batches of " << flags_.batch << "\n"
              << progress.Header() << std::endl;
    std::mt19937_64 rng(42);
    std::deque<std::future<Result<std::vector<PublishResult>>>> pending;
    uint64_t sent = 0;
    uint64_t acknowledged = 0;
    const auto began = Clock::now();
    auto next_sample = began + seconds(flags_.sample_seconds);
    uint64_t acknowledged_at_sample = 0;
    auto last_sample = began;
    auto settle_one = [&]() {
      auto answer = pending.front().get();
      pending.pop_front();
      if (!answer.ok()) {
        Fail("publish failed: " + answer.status().ToString());
        return false;
      }
      acknowledged += answer->size();
      return true;
    };
    while (acknowledged < flags_.messages) {
      while (sent < flags_.messages && pending.size() < flags_.pipeline) {
        const size_t n =
            static_cast<size_t>(std::min<uint64_t>(flags_.batch, flags_.messages - sent));
        std::vector<Message> batch(n);
        for (size_t i = 0; i < n; ++i)
          batch[i].payload = Payload(sent + i, flags_.payload_bytes, rng);
        pending.push_back(client_->PublishBatch(kBacklog, std::move(batch)));
        sent += n;
      }
      if (!settle_one()) return false;
      const auto now = Clock::now();
      if (now >= next_sample || acknowledged == flags_.messages) {
        const double rate =
            static_cast<double>(acknowledged - acknowledged_at_sample) / Seconds(now - last_sample);
        (void)brokerd_->Output();
        std::cout << progress.Row({Fixed(Seconds(now - began), 0), std::to_string(acknowledged),
                                   Fixed(rate, 0), Fixed(Mib(Rss()), 1), Fixed(Mib(Hwm()), 1)})
                  << std::endl;
        acknowledged_at_sample = acknowledged;
        last_sample = now;
        next_sample = now + seconds(flags_.sample_seconds);
      }
    }
    const double took = Seconds(Clock::now() - began);
    Row("after filling the backlog",
        std::to_string(acknowledged) + " messages in " + Fixed(took, 0) + " s (" +
            Fixed(static_cast<double>(acknowledged) / took, 0) + " msg/s)");
    return true;
  }

  // Waits (up to `timeout`) until `check` holds, looking every `tick`.
  bool WaitUntil(const std::function<bool()>& check, Clock::duration timeout,
                 milliseconds tick = milliseconds(200)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (check()) return true;
      if (Clock::now() >= deadline) return false;
      // RSS and metrics change without an event to wait on: block on brokerd's output (which
      // also keeps its pipe drained) for at most one tick, then look again.
      brokerd_->Drain(static_cast<int>(tick.count()));
    }
  }

  bool HoldInFlight() {
    client::ConsumerOptions options;
    options.member = "holder-0";
    options.max_in_flight = flags_.in_flight;
    options.group.ack_timeout = std::chrono::minutes(30);
    std::atomic<uint64_t> delivered{0};
    // The handler returns without settling: every delivery stays leased to this member.
    auto holder = client_->SubscribeManual(
        kBacklog, "holder", [&](client::MessageContext&) { delivered.fetch_add(1); }, options);
    if (!holder.ok()) {
      Fail(holder.status().ToString());
      return false;
    }
    testing::GroupLagFigures lag;
    const bool full = WaitUntil(
        [&] {
          auto l = admin_->DescribeGroup(kBacklog, "holder");
          if (l.ok()) lag = *l;
          return l.ok() && lag.in_flight >= flags_.in_flight;
        },
        seconds(300));
    if (!full) {
      Fail("the holder group did not reach " + std::to_string(flags_.in_flight) +
           " in flight; it has " + std::to_string(lag.in_flight));
      return false;
    }
    // Stay a while: in flight must not exceed max_in_flight, memory must not creep.
    const auto hold_until = Clock::now() + seconds(2 * flags_.sample_seconds);
    (void)WaitUntil([&] { return Clock::now() >= hold_until; }, seconds(3600), milliseconds(500));
    auto l = admin_->DescribeGroup(kBacklog, "holder");
    if (l.ok()) lag = *l;
    Row(std::to_string(flags_.in_flight) + " unacked in flight",
        "in_flight " + std::to_string(lag.in_flight) + ", backlog " + std::to_string(lag.backlog) +
            ", handler calls " + std::to_string(delivered.load()));
    if (lag.in_flight != flags_.in_flight) {
      Fail("in flight " + std::to_string(lag.in_flight) + " != max_in_flight " +
           std::to_string(flags_.in_flight));
      return false;
    }
    (void)(*holder)->Close(seconds(30));
    return true;
  }

  // A producer at --slow-rate for --slow-seconds, with a slow consumer (`with_consumer`) or with
  // no group at all (the control: what ingest alone costs, RocksDB memtables mostly). If brokerd
  // buffered for the slow consumer, the first would grow beyond the second.
  bool ProducerPhase(bool with_consumer) {
    const std::string topic = with_consumer ? kSlow : kControl;
    if (Status s = admin_->CreateTopic(topic, 1); !s.ok()) {
      Fail(s.ToString());
      return false;
    }
    std::atomic<uint64_t> consumed{0};
    PhaseStop stop;
    std::unique_ptr<client::Consumer> slow;
    if (with_consumer) {
      client::ConsumerOptions options;
      options.member = "slow-0";
      options.max_in_flight = flags_.slow_max_in_flight;
      options.concurrency = 1;
      const auto handler_time = milliseconds(flags_.slow_handler_ms);
      auto subscribed = client_->Subscribe(
          topic, "slow",
          [&consumed, &stop, handler_time](const client::ReceivedMessage&) {
            // The simulated slow work: it takes handler_time, or ends when the phase does.
            (void)stop.WaitUntil(Clock::now() + handler_time);
            consumed.fetch_add(1);
          },
          options);
      if (!subscribed.ok()) {
        Fail(subscribed.status().ToString());
        return false;
      }
      slow = std::move(subscribed).value();
    }

    std::atomic<uint64_t> published{0};
    Status producer_error;
    std::thread producer([&] {
      std::mt19937_64 rng(7);
      const size_t batch = 100;
      const auto period = std::chrono::microseconds(1'000'000 * batch / flags_.slow_rate);
      auto next = Clock::now();
      while (!stop.requested()) {
        std::vector<Message> messages(batch);
        for (size_t i = 0; i < batch; ++i) {
          messages[i].payload = Payload(published.load() + i, flags_.payload_bytes, rng);
        }
        auto answer = client_->PublishBatch(topic, std::move(messages)).get();
        if (!answer.ok()) {
          producer_error = answer.status();
          return;
        }
        published.fetch_add(batch);
        next += period;  // fixed rate (if publishing keeps up), until the phase ends
        if (stop.WaitUntil(next)) break;
      }
    });

    const Table table({"t (s)", "published", "consumed", "backlog", "in flight", "RSS (MiB)"});
    if (with_consumer) {
      std::cout << "\nslow consumer: producer " << flags_.slow_rate << " msg/s, consumer ~"
                << 1000 / std::max<int64_t>(1, flags_.slow_handler_ms) << " msg/s, max_in_flight "
                << flags_.slow_max_in_flight << "\n";
    } else {
      std::cout << "\ncontrol: producer " << flags_.slow_rate << " msg/s, no consumer group\n";
    }
    std::cout << table.Header() << std::endl;
    const auto began = Clock::now();
    int64_t min_rss = INT64_MAX;
    int64_t max_rss = 0;
    uint64_t max_in_flight_seen = 0;
    testing::GroupLagFigures lag;
    for (int64_t t = 0; t <= flags_.slow_seconds; t += flags_.sample_seconds) {
      const auto at = began + seconds(t);
      (void)WaitUntil([&] { return Clock::now() >= at; }, seconds(3600), milliseconds(500));
      if (with_consumer) {
        auto l = admin_->DescribeGroup(topic, "slow");
        if (l.ok()) lag = *l;
      }
      const int64_t rss = Rss();
      // The first sample is before the producer started: the range is over the later ones.
      if (t > 0) {
        min_rss = std::min(min_rss, rss);
        max_rss = std::max(max_rss, rss);
      }
      max_in_flight_seen = std::max(max_in_flight_seen, lag.in_flight);
      std::cout << table.Row({std::to_string(t), std::to_string(published.load()),
                              with_consumer ? std::to_string(consumed.load()) : "-",
                              with_consumer ? std::to_string(lag.backlog) : "-",
                              with_consumer ? std::to_string(lag.in_flight) : "-",
                              Fixed(Mib(rss), 1)})
                << std::endl;
    }
    stop.Request();
    producer.join();
    if (slow) (void)slow->Close(seconds(30));
    if (!producer_error.ok()) {
      Fail("publish failed: " + producer_error.ToString());
      return false;
    }
    const std::string range = "RSS " + Fixed(Mib(min_rss), 1) + "-" + Fixed(Mib(max_rss), 1) +
                              " MiB over " + std::to_string(flags_.slow_seconds) + " s, " +
                              std::to_string(published.load()) + " published";
    if (!with_consumer) {
      Row("producer only (control), end", range);
      return true;
    }
    Row("slow consumer, end", range + ", backlog grew to " + std::to_string(lag.backlog) +
                                  ", in flight at most " + std::to_string(max_in_flight_seen));
    if (max_in_flight_seen > flags_.slow_max_in_flight) {
      Fail("in flight exceeded max_in_flight");
      return false;
    }
    return true;
  }

  const Flags flags_;
  std::optional<testing::BrokerdProcess> brokerd_;
  std::string address_;
  std::unique_ptr<testing::AdminProbe> admin_;
  std::unique_ptr<client::Client> client_;
  const Table phases_{{"phase", "RSS (MiB)", "peak RSS (MiB)", "notes"}};
  std::vector<std::string> phase_rows_;
};

}  // namespace
}  // namespace broker::soak

int main(int argc, char** argv) {
  broker::soak::Flags flags;
  CLI::App app{
      "broker_memory_soak: brokerd's resident memory with a large backlog, many "
      "in-flight messages and a slow consumer",
      "broker_memory_soak"};
  app.add_option("--messages", flags.messages, "Backlog to publish")->capture_default_str();
  app.add_option("--batch", flags.batch, "Messages per publish call")->capture_default_str();
  app.add_option("--pipeline", flags.pipeline, "Publish calls in flight")->capture_default_str();
  app.add_option("--payload-bytes", flags.payload_bytes, "Payload size")->capture_default_str();
  app.add_option("--partitions", flags.partitions, "Partitions of the backlog topic")
      ->capture_default_str();
  app.add_option("--in-flight", flags.in_flight, "Unacked in-flight messages to hold")
      ->capture_default_str();
  app.add_option("--sample-seconds", flags.sample_seconds, "Seconds between samples")
      ->capture_default_str();
  app.add_option("--slow-seconds", flags.slow_seconds, "Length of the slow-consumer phase")
      ->capture_default_str();
  app.add_option("--slow-rate", flags.slow_rate, "Producer rate in the slow phase (msg/s)")
      ->capture_default_str();
  app.add_option("--slow-handler-ms", flags.slow_handler_ms, "Slow consumer's time per message")
      ->capture_default_str();
  app.add_option("--data-dir", flags.data_dir, "Data directory (default: a fresh temp dir)");
  app.add_flag("--keep-data", flags.keep_data, "Keep the data directory afterwards");
  CLI11_PARSE(app, argc, argv);

  bool made_dir = false;
  if (flags.data_dir.empty()) {
    flags.data_dir = (std::filesystem::temp_directory_path() /
                      ("broker-memory-soak-" + std::to_string(::getpid())))
                         .string();
    made_dir = true;
  }
  std::filesystem::create_directories(flags.data_dir);
  std::cout << "broker_memory_soak: data dir " << flags.data_dir << ", brokerd "
            << broker::testing::BrokerdProcess::BinaryPath() << "\n\n";
  const int rc = broker::soak::Run(flags).Main();
  if (made_dir && !flags.keep_data) std::filesystem::remove_all(flags.data_dir);
  return rc;
}
