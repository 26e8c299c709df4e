// ConsumerImpl: runs a subscription on `concurrency` handler threads, and each outcome becomes an
// ack, nack or reject. The threads take turns at leasing (leader/follower): an idle thread with
// nothing queued polls (bounded by max_in_flight and the prefetch), keeps one message and runs the
// handler itself, queues the rest and wakes a peer to take the next turn. So a message reaches its
// handler on the thread that leased it, with no hand-over between threads. A lease keeper thread
// (lease_keeper.cc) extends the leases of every message held, queued or running, ahead of expiry,
// in one batch per tick. A watchdog thread (only with a handler_timeout) abandons handlers that
// run too long. Close() drains as documented on Consumer.
//
// Thread safety: State::mu guards the queue, the running set, the lease bookkeeping of each
// InFlight, the polling turn and the lifecycle flags; nothing calls the subscription (a broker
// round trip over gRPC) while holding it. Each InFlight's `settled` flag makes its settling happen
// at most once across the handler thread, the watchdog, the lease keeper and Close().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/client/client.h"
#include "broker/client/transport.h"
#include "stats_signal.h"

namespace broker::client::internal {

struct ConsumerState;

// One leased message on its way through a handler.
struct InFlight {
  ReceivedMessage message;
  std::atomic<bool> settled{false};
  std::chrono::steady_clock::time_point started{};
  ConsumerState* state = nullptr;  // outlives every InFlight (held by shared_ptr in the threads)
  // Lease bookkeeping, guarded by state->mu; times on the consumer's clock.
  TimePoint leased_at{};               // when this consumer received it
  TimePoint extend_at{};               // when the lease keeper extends it next
  std::chrono::milliseconds lease{0};  // how long a lease (or an extension) lasts
  bool keep_alive = true;   // the lease keeper extends it (false: max_lease_extension or lost)
  bool lease_lost = false;  // an extension was refused: the lease has ended

  // Each settles only if nothing settled this message before; false otherwise. When it settles,
  // `result` (if given) receives the broker's answer (kFailedPrecondition once the lease expired).
  // TryAck without `result` does not wait for the answer (Subscription::AckAsync).
  bool TryAck(Status* result = nullptr);
  bool TryNack(std::optional<std::chrono::milliseconds> delay, const std::string& error,
               Status* result = nullptr);
  bool TryReject(const std::string& reason, Status* result = nullptr);
  // Claims the message for a release (a batch of them goes in one Subscription::ReleaseAttempts).
  bool ClaimForRelease() { return !settled.exchange(true); }
  // Serve: sends `reply` to `inbox` and acks, through the transport's cheapest path for both
  // (Transport::ReplyAndAck); does not wait. A reply to a vanished inbox is counted.
  bool TryReplyAndAck(Transport& transport, std::string_view inbox, Message reply);
};

// How a consumer turns one message into an outcome (auto-ack handler, manual handler, serve).
using Dispatch = std::function<void(InFlight&)>;

struct ConsumerState {
  std::unique_ptr<Subscription> subscription;
  ConsumerOptions options;
  std::shared_ptr<Clock> clock;  // lease timing (the client's clock)
  std::string topic;
  std::string group;
  Dispatch dispatch;

  std::mutex mu;
  std::condition_variable work_cv;  // idle handler threads: a message is queued or a turn is free
  std::condition_variable idle_cv;  // Close and the watchdog: a poll or a handler ended
  std::condition_variable lease_cv;               // the lease keeper: messages arrived, or stop
  std::deque<std::shared_ptr<InFlight>> queue;    // guarded by mu: leased, not started
  std::set<std::shared_ptr<InFlight>> running;    // guarded by mu
  bool polling = true;                             // guarded by mu
  bool poll_in_progress = false;                   // guarded by mu: a handler thread's turn
  bool stopping = false;                           // guarded by mu: workers exit when idle
  bool keeping_leases = true;                      // guarded by mu: the lease keeper runs
  // Handler run time (steady clock), a moving average: sizes the automatic prefetch.
  std::chrono::nanoseconds handler_time{0};  // guarded by mu
  // Close timed out: the last abandoned handler to finish releases the subscription (leaves the
  // group).
  bool release_when_idle = false;                  // guarded by mu

  std::atomic<uint64_t> delivered{0}, acked{0}, nacked{0}, timed_out{0}, dropped_expired{0},
      undeliverable_replies{0}, released{0}, lease_extensions{0}, leases_lost{0},
      lease_limit_reached{0};
  StatsSignal stats_signal;  // told of every change of the counters above
  void Count(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    if (n == 0) return;
    counter.fetch_add(n);
    stats_signal.Changed();
  }
  // Most messages to hold (running + queued) as the prefetch allows now; mu held.
  size_t HoldTarget() const;
  // Gives `flights` back to the group (those not settled meanwhile), attempt not counted, in one
  // batch. mu not held.
  void Release(const std::vector<std::shared_ptr<InFlight>>& flights);
};

class ConsumerImpl final : public Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> Start(std::unique_ptr<Subscription> subscription,
                                                 std::string topic, std::string group,
                                                 const ConsumerOptions& options,
                                                 std::shared_ptr<Clock> clock, Dispatch dispatch);
  ~ConsumerImpl() override;

  const std::string& member() const override { return member_; }
  Status Close(std::optional<std::chrono::milliseconds> timeout) override;
  ConsumerStats stats() const override;
  bool WaitForStats(const std::function<bool(const ConsumerStats&)>& condition,
                    std::chrono::milliseconds timeout) const override;

 private:
  explicit ConsumerImpl(std::shared_ptr<ConsumerState> state);
  static void WorkerLoop(std::shared_ptr<ConsumerState> state);
  // Leases what there is room for; state->mu held on entry and exit, released while polling.
  static void PollTurn(ConsumerState& state, std::unique_lock<std::mutex>& lock);
  static void WatchdogLoop(std::shared_ptr<ConsumerState> state);

  std::shared_ptr<ConsumerState> state_;
  const std::string member_;
  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
  std::thread watchdog_;  // only with a handler_timeout
  std::thread lease_keeper_;
  std::vector<std::thread> workers_;
};

}  // namespace broker::client::internal
