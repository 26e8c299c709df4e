// NatsConnection: one libnats connection (with its JetStream context) shared by a transport, its
// subscriptions and its inboxes. It owns what they have in common:
//   - publishing to JetStream with a callback per message: every publish carries a reply subject
//     under one wildcard subscription of this connection, so acknowledgements of any number of
//     publishes in flight are matched without a blocking call per message; a timer fails those
//     not acknowledged within call_timeout;
//   - creating streams for topics on first use (and remembering their partition count);
//   - core NATS subscriptions whose handler is a std::function (AsyncSubscription);
//   - telling inboxes when the connection is closed for good.
//
// Reconnection is libnats's: after losing a server it reconnects to another one of the cluster,
// re-creates core subscriptions and resends buffered publishes.
//
// Thread safety: all methods are thread-safe. mu_ guards the pending publishes, the topic cache,
// the closed listeners and the member names; callbacks are called outside it.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/client/nats_transport.h"
#include "nats_wire.h"

namespace broker::client::nats_internal {

// A core NATS subscription calling `handler` for every message (on a libnats thread). Destroying it
// unsubscribes; the handler is released only once libnats is done calling it.
class AsyncSubscription {
 public:
  using Handler = std::function<void(natsMsg* msg)>;  // the handler does not own `msg`
  static Result<std::unique_ptr<AsyncSubscription>> Open(natsConnection* nc,
                                                         const std::string& subject,
                                                         const std::string& queue, Handler handler);
  ~AsyncSubscription();

 private:
  explicit AsyncSubscription(natsSubscription* sub) : sub_(sub) {}
  natsSubscription* sub_;
};

struct TopicInfo {
  uint32_t partitions = 1;
  std::shared_ptr<std::atomic<uint64_t>> round_robin;
};

class NatsConnection : public std::enable_shared_from_this<NatsConnection> {
 public:
  static Result<std::shared_ptr<NatsConnection>> Open(const NatsTransportOptions& options);
  ~NatsConnection();

  natsConnection* nc() const { return nc_; }
  jsCtx* js() const { return js_; }
  const NatsTransportOptions& options() const { return options_; }
  int64_t timeout_ms() const { return options_.call_timeout.count(); }

  // Creates the stream of `topic` if it does not exist yet (options().default_partitions subjects,
  // options().replicas replicas), and returns its partition count. Cached after the first call.
  Result<TopicInfo> EnsureTopic(std::string_view topic);
  // Forgets what EnsureTopic remembered (the stream was deleted behind our back).
  void ForgetTopic(std::string_view topic);
  // The same, for the topic whose stream stores `subject`.
  void ForgetTopicOfSubject(std::string_view subject);

  // The partition a message goes to: hash of the key (the engine's), else of the idempotency key
  // (so a retried publish lands where the first did), else round-robin.
  static uint32_t ChoosePartition(const Message& message, const TopicInfo& topic);

  // Publishes `message` to JetStream on `subject`; `done` runs exactly once, on a libnats thread,
  // the timer thread or (if it fails at once) the calling thread, with the acknowledgement or an
  // error.
  using AckCallback = std::function<void(PubAck)>;
  void PublishAsync(const std::string& subject, const Message& message, AckCallback done);
  // Blocking form, for dead letters.
  PubAck PublishSync(const std::string& subject, const Message& message);

  // Core NATS publish of a short text (acks, naks, presence answers).
  Status PublishText(const std::string& subject, std::string_view text);

  // Listeners called once when the connection closes for good (every server lost for longer than
  // reconnect_for). Returns an id for RemoveClosedListener.
  uint64_t AddClosedListener(std::function<void()> listener);
  void RemoveClosedListener(uint64_t id);

  // Keeps `sub` until the connection closes, or until 64 newer ones are kept (the oldest is then
  // unsubscribed). A closed reply inbox's subscription stays so it can
  // answer late replies "gone" itself: its unsubscribe would reach the other servers of a cluster
  // only after a while, and a reply routed meanwhile would get no answer at all (the sender would
  // wait its whole timeout instead of learning the requester has gone).
  void Retire(std::unique_ptr<AsyncSubscription> sub);

  // Member names subscribed through this connection, so a second subscribe with the same name is
  // refused without a round trip. False if `key` was already registered.
  bool RegisterMember(const std::string& key);
  void UnregisterMember(const std::string& key);

 private:
  explicit NatsConnection(NatsTransportOptions options) : options_(std::move(options)) {}
  static void OnClosed(natsConnection* nc, void* closure);
  static uintptr_t NextLiveId();
  void OnAck(natsMsg* msg);
  void TimerLoop();
  void FailAll(const Status& status);

  // Constant after Open.
  const NatsTransportOptions options_;
  const uintptr_t live_id_ = NextLiveId();  // this connection's key in the closed-callback registry
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::string ack_prefix_;  // "_INBOX.<nuid>." : publishes ask for their ack at ack_prefix_ + id
  std::unique_ptr<AsyncSubscription> ack_sub_;
  std::thread timer_;

  std::mutex mu_;
  std::condition_variable cv_;
  struct Pending {
    AckCallback done;
    std::chrono::steady_clock::time_point deadline;
    // Kept for a resend: a stream just created may not be known yet to the server this
    // connection uses (its interest travels between servers asynchronously), which answers
    // "no responders" meanwhile.
    std::string subject;
    Message message;
    std::chrono::steady_clock::time_point no_responders_since{};
    std::chrono::steady_clock::time_point resend_at{};  // set while a resend is scheduled
  };
  void ScheduleResend(uint64_t id, Pending& pending);  // mu_ held
  // Sends pending publish `id` (again); fails it if that is impossible.
  void Send(uint64_t id, const std::string& subject, const Message& message);
  void Fail(uint64_t id, Status status);
  std::unordered_map<uint64_t, Pending> pending_;                          // guarded by mu_
  std::multimap<std::chrono::steady_clock::time_point, uint64_t> timers_;  // guarded by mu_
  uint64_t next_id_ = 1;                                                   // guarded by mu_
  bool stopping_ = false;                                                  // guarded by mu_
  std::map<std::string, TopicInfo, std::less<>> topics_;                   // guarded by mu_
  std::map<uint64_t, std::function<void()>> closed_listeners_;             // guarded by mu_
  uint64_t next_listener_ = 1;                                             // guarded by mu_
  std::set<std::string> members_;                                          // guarded by mu_
  std::vector<std::unique_ptr<AsyncSubscription>> retired_;                // guarded by mu_
};

}  // namespace broker::client::nats_internal
