#include "torture_driver.h"

#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "admin_probe.h"
#include "broker/client/grpc_transport.h"
#include "brokerd_process.h"
#include "torture_workload.h"

namespace broker::torture {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kShortLife{100};
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kProgressTimeout = std::chrono::seconds(30);
// A publish that cannot be acknowledged for this long once publishers stop fails the run.
constexpr auto kFinalPublishDeadline = std::chrono::seconds(60);

// What publishers and the driver share: whether to stop, and a "something changed" signal
// (brokerd restarted, stop requested) that cuts retry backoffs short.
class Signals {
 public:
  void Changed() {
    {
      std::lock_guard lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }
  void RequestStop() {
    stop_.store(true);
    Changed();
  }
  bool stopping() const { return stop_.load(); }
  // Waits until `until`, or until something changes (or stop is requested if `wake_on_stop`).
  void WaitUntil(Clock::time_point until, bool wake_on_stop) {
    std::unique_lock lock(mu_);
    const uint64_t seen = generation_;
    cv_.wait_until(lock, until,
                   [&] { return generation_ != seen || (wake_on_stop && stop_.load()); });
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;  // guarded by mu_
};

client::GrpcTransportOptions TransportFor(const std::string& address) {
  client::GrpcTransportOptions options;
  options.address = address;
  options.call_timeout = std::chrono::seconds(5);
  return options;
}

// One publisher thread: messages p<index>-0, p<index>-1, ... each retried with its idempotency
// key until acknowledged.
class Publisher {
 public:
  Publisher(int index, bool batches, int rate, uint64_t seed, std::unique_ptr<client::Client> c,
            TortureHistory& history, Signals& signals)
      : index_(index),
        batches_(batches),
        rate_(rate),
        rng_(seed),
        client_(std::move(c)),
        history_(history),
        signals_(signals) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Publisher() { Join(); }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  const Status& error() const { return error_; }

 private:
  void Loop() {
    uint64_t seq = 0;
    auto next_send = Clock::now();
    while (!signals_.stopping()) {
      const size_t n = batches_ ? 1 + rng_() % 8 : 1;
      std::vector<std::string> ids;
      for (size_t i = 0; i < n; ++i) ids.push_back(MessageIdFor(index_, seq + i));
      if (Status s = PublishUntilAcknowledged(ids); !s.ok()) {
        error_ = s;
        return;
      }
      seq += n;
      if (rate_ > 0) {
        next_send += milliseconds(1000 * static_cast<int64_t>(n) / rate_);
        signals_.WaitUntil(next_send, /*wake_on_stop=*/true);
      }
    }
  }

  Status PublishUntilAcknowledged(const std::vector<std::string>& ids) {
    std::optional<Clock::time_point> deadline;
    auto backoff = milliseconds(10);
    for (;;) {
      std::vector<Message> messages;
      for (const auto& id : ids) messages.push_back(MakeMessage(id));
      history_.PublishCall(ids);
      Result<std::vector<PublishResult>> answer = Status::Internal("not called");
      if (batches_) {
        answer = client_->PublishBatch(kTopic, std::move(messages)).get();
      } else {
        auto one = client_->Publish(kTopic, std::move(messages[0])).get();
        if (one.ok()) {
          answer = std::vector<PublishResult>{*one};
        } else {
          answer = one.status();
        }
      }
      history_.PublishAnswer(ids, answer);
      if (answer.ok()) return Status::Ok();
      const StatusCode code = answer.status().code();
      if (code != StatusCode::kUnavailable && code != StatusCode::kDeadlineExceeded &&
          code != StatusCode::kCancelled) {
        return Status::Internal("publish of " + ids.front() +
                                " failed: " + answer.status().ToString());
      }
      // brokerd is down or restarting: retry with the same idempotency keys.
      if (signals_.stopping()) {
        if (!deadline) deadline = Clock::now() + kFinalPublishDeadline;
        if (Clock::now() > *deadline) {
          return Status::DeadlineExceeded(
              "publish of " + ids.front() +
              " not acknowledged after the final deadline: " + answer.status().ToString());
        }
      }
      signals_.WaitUntil(Clock::now() + backoff, /*wake_on_stop=*/false);
      backoff = std::min(backoff * 2, milliseconds(200));
    }
  }

  const int index_;
  const bool batches_;
  const int rate_;
  std::mt19937_64 rng_;
  std::unique_ptr<client::Client> client_;
  TortureHistory& history_;
  Signals& signals_;
  Status error_;  // written by the thread, read after Join
  std::thread thread_;
};

// The handler of one consumer: records each delivery, then acts as ActionFor says.
void Handle(client::MessageContext& context, uint64_t seed, const std::string& member,
            TortureHistory& history) {
  const client::ReceivedMessage& m = context.message();
  const std::string id(m.Header(kIdHeader).value_or("<no id>"));
  history.Delivered(DeliveryEvent{m.group, member, id, m.record.partition, m.record.offset,
                                  m.attempt, Clock::now()});
  SettleEvent settle{m.group, id, m.attempt, SettleKind::kAck, Clock::now(), {}, StatusCode::kOk};
  Status outcome;
  switch (ActionFor(seed, m.group, id, m.attempt)) {
    case Action::kDrop:
      return;
    case Action::kPoison:
      settle.kind = SettleKind::kNack;
      settle.answered = settle.started;
      settle.code = StatusCode::kUnknown;  // the client nacks after the throw; answer unseen
      history.Settled(settle);
      throw std::runtime_error("poison: this message always fails");
    case Action::kAck:
      outcome = context.Ack();
      break;
    case Action::kNack:
      settle.kind = SettleKind::kNack;
      outcome = context.Nack(std::nullopt, "transient failure");
      break;
    case Action::kReject:
      settle.kind = SettleKind::kReject;
      outcome = context.Reject("torture: rejected");
      break;
  }
  settle.answered = Clock::now();
  settle.code = outcome.code();
  history.Settled(settle);
}

struct ConsumerSlot {
  std::unique_ptr<client::Client> client;
  std::unique_ptr<client::Consumer> consumer;
};

// True if `pid` (our child) has exited; leaves it to be reaped by its owner.
bool ExitedByItself(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// Calls `check` until it holds or `deadline` passes, draining brokerd's output meanwhile.
// Between checks it waits on `signals` (a restart or stop wakes it) for at most `tick`.
bool WaitFor(const std::function<bool()>& check, Clock::time_point deadline, Signals& signals,
             testing::BrokerdProcess& brokerd, milliseconds tick = milliseconds(50)) {
  for (;;) {
    if (check()) return true;
    (void)brokerd.Output();
    const auto now = Clock::now();
    if (now >= deadline) return false;
    signals.WaitUntil(std::min(deadline, now + tick), /*wake_on_stop=*/false);
  }
}

// The body of RunTorture: an early return leaves brokerd to its destructor (SIGKILL).
Status RunRounds(const TortureConfig& config, TortureHistory& history, TortureRun& run) {
  const auto began = Clock::now();
  std::mt19937_64 rng(config.seed);
  const std::vector<std::string> brokerd_args = {
      "--durability", "sync", "--log-level", "warn", "--shutdown-grace-ms", "2000"};
  std::string error;
  auto brokerd =
      testing::BrokerdProcess::Start(config.data_dir, brokerd_args, &error, kStartTimeout);
  if (!brokerd) return Status::Unavailable("brokerd did not start: " + error);
  ++run.starts;
  const std::string address = brokerd->address();

  auto admin = testing::AdminProbe::Connect(address);
  if (Status s = admin->CreateTopic(kTopic, kPartitions); !s.ok()) return s;
  for (const GroupSpec& g : kGroups) {
    if (Status s = admin->CreateGroup(kTopic, g.name, TortureGroupConfig(g.ordering)); !s.ok()) {
      return s;
    }
  }

  Signals signals;
  std::vector<ConsumerSlot> consumers;
  for (const GroupSpec& g : kGroups) {
    for (int i = 0; i < g.consumers; ++i) {
      auto connected = client::ConnectGrpc(TransportFor(address));
      if (!connected.ok()) return connected.status();
      ConsumerSlot slot{std::move(connected).value(), nullptr};
      const std::string member = std::string(g.name) + "-" + std::to_string(i);
      client::ConsumerOptions options;
      options.member = member;
      options.concurrency = kConsumerConcurrency;
      options.max_in_flight = kConsumerConcurrency;
      options.group = TortureGroupConfig(g.ordering);
      options.close_timeout = std::chrono::seconds(5);
      const uint64_t seed = config.seed;
      auto consumer = slot.client->SubscribeManual(
          kTopic, g.name,
          [seed, member, &history](client::MessageContext& context) {
            Handle(context, seed, member, history);
          },
          options);
      if (!consumer.ok()) return consumer.status();
      slot.consumer = std::move(consumer).value();
      consumers.push_back(std::move(slot));
    }
  }

  std::vector<std::unique_ptr<Publisher>> publishers;
  for (int i = 0; i < config.publishers; ++i) {
    auto connected = client::ConnectGrpc(TransportFor(address));
    if (!connected.ok()) return connected.status();
    publishers.push_back(
        std::make_unique<Publisher>(i, i == config.publishers - 1, config.publish_rate, rng(),
                                    std::move(connected).value(), history, signals));
  }

  // The rounds: let brokerd live a random while (and make progress), SIGKILL it, restart it.
  Status failure;
  for (int round = 0; round < config.max_rounds && Clock::now() - began < config.budget; ++round) {
    const bool short_life = rng() % 5 == 0;
    const auto life =
        short_life ? milliseconds(rng() % kShortLife.count())
                   : config.min_life +
                         milliseconds(rng() % std::max<int64_t>(
                                                  1, (config.max_life - config.min_life).count()));
    const uint64_t acknowledged_before = history.acknowledged();
    const auto kill_at = Clock::now() + life;
    (void)WaitFor([] { return false; }, kill_at, signals, *brokerd);
    if (!short_life && !WaitFor([&] { return history.acknowledged() > acknowledged_before; },
                                Clock::now() + kProgressTimeout, signals, *brokerd)) {
      failure =
          Status::DeadlineExceeded("no publish was acknowledged in round " + std::to_string(round) +
                                   "; brokerd output: " + brokerd->Output());
      break;
    }
    if (ExitedByItself(brokerd->pid())) {  // a crash of its own (an assertion, a sanitizer report)
      failure = Status::Internal("brokerd exited before kill " + std::to_string(run.kills + 1) +
                                 ": " + brokerd->Output());
      break;
    }
    history.BrokerKilled(Clock::now());
    brokerd->Kill();
    ++run.kills;
    brokerd = testing::BrokerdProcess::Start(config.data_dir, brokerd_args, &error, kStartTimeout,
                                             address);
    if (!brokerd) {
      failure = Status::Unavailable("brokerd did not restart after kill " +
                                    std::to_string(run.kills) + ": " + error);
      break;
    }
    ++run.starts;
    signals.Changed();
  }

  // Final phase: publishers finish their current message, then the groups drain.
  signals.RequestStop();
  for (auto& p : publishers) {
    p->Join();
    if (failure.ok() && !p->error().ok()) failure = p->error();
  }
  publishers.clear();
  const auto drain_began = Clock::now();
  if (failure.ok() && brokerd) {
    uint64_t published = 0;
    for (const auto& [id, record] : history.publishes()) published += record.acknowledged;
    std::string last_state;
    const bool drained = WaitFor(
        [&] {
          for (const GroupSpec& g : kGroups) {
            auto lag = admin->DescribeGroup(kTopic, g.name);
            if (!lag.ok()) {
              last_state = lag.status().ToString();
              return false;
            }
            last_state = std::string(g.name) + ": end offsets " + std::to_string(lag->end_offsets) +
                         " unsettled " + std::to_string(lag->unsettled) + " (backlog " +
                         std::to_string(lag->backlog) + ", in flight " +
                         std::to_string(lag->in_flight) + ", delayed " +
                         std::to_string(lag->delayed) + ")";
            if (lag->unsettled != 0 || lag->end_offsets < published) return false;
          }
          return true;
        },
        drain_began + config.drain_deadline, signals, *brokerd, milliseconds(100));
    if (!drained) {
      failure = Status::DeadlineExceeded("the groups did not drain within " +
                                         std::to_string(config.drain_deadline.count()) +
                                         " s; last seen " + last_state);
    }
  }
  run.drain_time = std::chrono::duration_cast<milliseconds>(Clock::now() - drain_began);
  for (auto& slot : consumers) {
    if (slot.consumer) (void)slot.consumer->Close();
  }
  consumers.clear();
  if (brokerd) {
    const int exit_code = brokerd->Stop(std::chrono::seconds(30));
    if (exit_code != 0 && failure.ok()) {
      failure = Status::Internal("brokerd did not stop cleanly (exit " + std::to_string(exit_code) +
                                 "): " + brokerd->Output());
    }
  }
  return failure;
}

}  // namespace

TortureRun RunTorture(const TortureConfig& config, TortureHistory& history) {
  const auto began = Clock::now();
  TortureRun run;
  run.status = RunRounds(config, history, run);
  run.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - began);
  return run;
}

}  // namespace broker::torture
