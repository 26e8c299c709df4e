#include "publish_workload.h"

#include <algorithm>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>

namespace brokerbench {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

// One producer thread: publishes its share in calls of `batch` messages and keeps at most
// `window` messages unacknowledged. When its window is full it sleeps until an eighth of the
// window (at least one call) is free again, not until the first acknowledgement: the engine
// acknowledges a group commit's messages one callback after another, and waking the producer for
// each of them cost a context switch (and a futex wake on the writer) per message, about 0.1 per
// message in all, on this VM where a wake-up costs tens of µs (BENCHMARKS.md, issue 20). A client
// that reads its acknowledgements in bulk (the peers' pipelining Redis client) does the same.
//
// Thread safety: Run() on the producer's thread; OnDone() on the engine's writer thread or a
// gRPC thread (or on the producer's thread if a call is rejected before it is queued). mu_
// guards in_flight_, wake_at_, waiting_ and error_. start_ns_[i] is written before call i is made and latency_ns_[i] by its callback
// only; both are read after Run() has seen in_flight_ drop to 0 under mu_.
class Producer {
 public:
  Producer(const PublishFn& sink, uint64_t messages, const PublishConfig& config)
      : sink_(sink),
        payloads_(config.payload_mode, config.payload_bytes),
        messages_(messages),
        batch_(config.batch),
        window_(config.window),
        calls_((messages + config.batch - 1) / config.batch),
        start_ns_(calls_),
        latency_ns_(calls_) {}

  void Run(std::latch& start) {
    start.wait();
    const CpuTime cpu_start = ThreadCpuTime();
    for (uint64_t call = 0; call < calls_; ++call) {
      const size_t n = CallSize(call);
      {
        std::unique_lock lock(mu_);
        if (in_flight_ + n > window_) WaitFor(lock, window_ - std::max(n, window_ / 8));
        if (!error_.ok()) break;
        in_flight_ += n;
      }
      std::vector<broker::Message> batch(n);
      for (broker::Message& m : batch) m.payload = payloads_.Next();
      start_ns_[call] = NowNs();
      // 16 bytes of capture: fits std::function's inline buffer, no allocation per call.
      sink_(std::move(batch), [this, call](broker::Result<std::vector<broker::PublishResult>> r) {
        OnDone(call, std::move(r));
      });
      ++made_;
    }
    std::unique_lock lock(mu_);
    WaitFor(lock, 0);
    cpu_ = ThreadCpuTime() - cpu_start;
  }

  uint64_t calls_made() const { return made_; }
  const CpuTime& cpu() const { return cpu_; }
  uint64_t acknowledged() const { return acknowledged_; }
  const broker::Status& error() const { return error_; }
  // Latencies of the calls that were made.
  void AppendLatencies(std::vector<uint64_t>& out) const {
    out.insert(out.end(), latency_ns_.begin(), latency_ns_.begin() + static_cast<ptrdiff_t>(made_));
  }

 private:
  size_t CallSize(uint64_t call) const {
    return static_cast<size_t>(std::min<uint64_t>(batch_, messages_ - call * batch_));
  }

  // Sleeps until at most `in_flight` messages are unacknowledged (or a call failed).
  void WaitFor(std::unique_lock<std::mutex>& lock, size_t in_flight) {
    wake_at_ = in_flight;
    waiting_ = true;
    cv_.wait(lock, [&] { return !error_.ok() || in_flight_ <= wake_at_; });
    waiting_ = false;
  }

  void OnDone(uint64_t call, broker::Result<std::vector<broker::PublishResult>> result) {
    latency_ns_[call] = NowNs() - start_ns_[call];
    const size_t n = CallSize(call);
    bool ok = result.ok() && result->size() == n;
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      in_flight_ -= n;
      if (ok) {
        acknowledged_ += n;
      } else if (error_.ok()) {
        error_ = result.ok() ? broker::Status::Internal(
                                   "publish of " + std::to_string(n) + " messages returned " +
                                   std::to_string(result->size()) + " positions")
                             : result.status();
      }
      // Not cleared here: the producer clears it once its wait is over, so a spurious wake-up
      // before then is followed by another notify. Once the producer is woken, further notifies
      // find no waiter and make no system call.
      wake = waiting_ && (in_flight_ <= wake_at_ || !error_.ok());
    }
    if (wake) cv_.notify_one();
  }

  const PublishFn& sink_;
  PayloadSource payloads_;  // producer thread only
  const uint64_t messages_;
  const size_t batch_;
  const size_t window_;
  const uint64_t calls_;
  std::vector<uint64_t> start_ns_;
  std::vector<uint64_t> latency_ns_;
  uint64_t made_ = 0;  // producer thread only
  CpuTime cpu_;        // producer thread only, read after join

  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;       // guarded by mu_
  size_t wake_at_ = 0;         // guarded by mu_: while waiting_, the in_flight_ to wake at
  bool waiting_ = false;       // guarded by mu_: Run() sleeps in WaitFor
  uint64_t acknowledged_ = 0;  // guarded by mu_
  broker::Status error_;       // guarded by mu_
};

}  // namespace

broker::Status ValidatePublishConfig(const PublishConfig& config) {
  if (config.messages == 0) return broker::Status::InvalidArgument("--messages must be > 0");
  if (config.batch == 0) return broker::Status::InvalidArgument("--batch must be > 0");
  if (config.producers == 0) return broker::Status::InvalidArgument("--producers must be > 0");
  if (config.window < config.batch) {
    return broker::Status::InvalidArgument("--window (" + std::to_string(config.window) +
                                           ") must be at least --batch (" +
                                           std::to_string(config.batch) + ")");
  }
  if (config.messages < config.producers) {
    return broker::Status::InvalidArgument("--messages must be at least --producers");
  }
  return broker::Status::Ok();
}

PublishOutcome RunPublishWorkload(const std::vector<PublishFn>& sinks, const PublishConfig& config) {
  std::vector<std::unique_ptr<Producer>> producers;
  for (unsigned p = 0; p < config.producers; ++p) {
    const uint64_t share =
        config.messages / config.producers + (p < config.messages % config.producers ? 1 : 0);
    producers.push_back(std::make_unique<Producer>(sinks.at(p), share, config));
  }

  std::latch start(1);
  std::vector<std::thread> threads;
  for (auto& producer : producers) {
    threads.emplace_back([&producer, &start] { producer->Run(start); });
  }
  const auto begin = Clock::now();
  start.count_down();
  for (std::thread& t : threads) t.join();
  const auto end = Clock::now();

  PublishOutcome outcome;
  outcome.elapsed = end - begin;
  for (const auto& producer : producers) {
    outcome.acknowledged += producer->acknowledged();
    outcome.calls += producer->calls_made();
    producer->AppendLatencies(outcome.latencies_ns);
    outcome.producers_cpu = outcome.producers_cpu + producer->cpu();
    if (outcome.error.ok() && !producer->error().ok()) outcome.error = producer->error();
  }
  return outcome;
}

}  // namespace brokerbench
