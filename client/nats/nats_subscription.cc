#include "nats_subscription.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <random>

#include "broker/clock.h"
#include "delivery/backoff.h"
#include "delivery/dead_letters.h"
#include "nats_names.h"

namespace broker::client::nats_internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;

// JetStream's BackOff list is bounded; redeliveries past its end reuse its last entry.
constexpr uint32_t kMaxBackoffEntries = 50;
// How long a membership probe waits for an answer. No member: "no responders" comes at once; a
// timeout means the only interest the server knew of has just gone.
constexpr milliseconds kProbeTimeout(500);
// Per-message history (first delivery, last error) for dead letters, bounded per member.
constexpr size_t kMaxHistory = 10000;

std::string RandomMemberName() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> dist;
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = dist(device);
  std::string out = "member-";
  for (int i = 0; i < 12; ++i, v >>= 4) out.push_back(kHex[v & 0xf]);
  return out;
}

int64_t Nanos(milliseconds d) { return std::chrono::duration_cast<nanoseconds>(d).count(); }

struct ConsumerInfoDeleter {
  void operator()(jsConsumerInfo* ci) const { jsConsumerInfo_Destroy(ci); }
};
using ConsumerInfoPtr = std::unique_ptr<jsConsumerInfo, ConsumerInfoDeleter>;

// Looks the durable consumer up, creating it with `config` if it does not exist.
Result<ConsumerInfoPtr> EnsureConsumer(NatsConnection& conn, const std::string& stream,
                                       const std::string& consumer, const GroupConfig& config) {
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, conn.js(), stream.c_str(), consumer.c_str(), nullptr,
                                    &jerr);
  if (s == NATS_OK) return ConsumerInfoPtr(ci);
  if (s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
    return FromNats(s, "looking up consumer " + consumer + " of stream " + stream, jerr);
  }
  const std::string description = EncodeGroupConfig(config);
  std::vector<int64_t> backoff;
  if (config.max_deliveries > 0) {
    // JetStream's ack wait of delivery n is BackOff[n-1]: the engine's lease (ack_timeout) plus
    // the backoff after the n-th failed attempt (nominal, without jitter).
    const uint32_t entries = std::min(config.max_deliveries, kMaxBackoffEntries);
    for (uint32_t n = 1; n <= entries; ++n) {
      const auto delay = delivery::BackoffDelay(config.backoff, n, 0.0);
      backoff.push_back(Nanos(config.ack_timeout) +
                        std::chrono::duration_cast<nanoseconds>(delay).count());
    }
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = consumer.c_str();
  cc.Description = description.c_str();
  cc.DeliverPolicy = config.start == StartPosition::kLatest ? js_DeliverNew : js_DeliverAll;
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = Nanos(config.ack_timeout);
  // One more than max_deliveries: the extra delivery writes the dead letter (see the header).
  cc.MaxDeliver = config.max_deliveries == 0 ? -1 : static_cast<int64_t>(config.max_deliveries) + 1;
  if (!backoff.empty()) {
    cc.BackOff = backoff.data();
    cc.BackOffLen = static_cast<int>(backoff.size());
  }
  // Ordered groups: one unsettled message per group (JetStream has no per-key leases).
  cc.MaxAckPending = config.ordering == Ordering::kNone ? 20000 : 1;
  jerr = static_cast<jsErrCode>(0);
  s = js_AddConsumer(&ci, conn.js(), stream.c_str(), &cc, nullptr, &jerr);
  if (s != NATS_OK) {
    // Created concurrently by another member (with its config, which then wins as in the engine).
    jsErrCode again = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&ci, conn.js(), stream.c_str(), consumer.c_str(), nullptr, &again) ==
        NATS_OK) {
      return ConsumerInfoPtr(ci);
    }
    return FromNats(s, "creating consumer " + consumer + " on stream " + stream, jerr);
  }
  return ConsumerInfoPtr(ci);
}

class NatsSubscription final : public Subscription {
 public:
  NatsSubscription(std::shared_ptr<NatsConnection> conn, std::string topic, std::string group,
                   std::string member, GroupConfig config)
      : conn_(std::move(conn)),
        clock_(Clock::System()),
        topic_(std::move(topic)),
        group_(std::move(group)),
        member_(std::move(member)),
        member_key_(topic_ + "/" + group_ + "/" + member_),
        config_(config),
        dlq_topic_(delivery::DeadLetterTopic(topic_, group_)) {}

  ~NatsSubscription() override {
    // Stop answering presence probes first: a requester then sees no responders.
    serve_sub_.reset();
    member_sub_.reset();
    std::map<uint64_t, Lease> leases;
    {
      std::lock_guard lock(mu_);
      leases.swap(leases_);
    }
    // Leaving the group: what this member holds goes back to the group at once.
    for (auto& [offset, lease] : leases) (void)conn_->PublishText(lease.ack_subject, "-NAK");
    if (pull_ != nullptr) {
      natsSubscription_Unsubscribe(pull_);  // bound to an existing consumer: not deleted
      natsSubscription_Destroy(pull_);
    }
    natsConnection_FlushTimeout(conn_->nc(), conn_->timeout_ms());
    conn_->UnregisterMember(member_key_);
  }

  Status Start() {
    const std::string stream = StreamName(topic_);
    const std::string consumer = ConsumerName(group_);
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = conn_->timeout_ms();
    jsSubOptions sub_options;
    jsSubOptions_Init(&sub_options);
    sub_options.Stream = stream.c_str();
    sub_options.Consumer = consumer.c_str();
    sub_options.ManualAck = true;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const std::string subject = PartitionSubject(conn_->options().subject_prefix, topic_, 0);
    natsStatus s = js_PullSubscribe(&pull_, conn_->js(), subject.c_str(), consumer.c_str(),
                                    &js_options, &sub_options, &jerr);
    if (s != NATS_OK) {
      pull_ = nullptr;
      return FromNats(s, "binding to consumer " + consumer + " of stream " + stream, jerr);
    }
    natsSubscription_SetPendingLimits(pull_, -1, -1);
    auto answer = [conn = conn_.get()](natsMsg* msg) {
      if (const char* reply = natsMsg_GetReply(msg)) (void)conn->PublishText(reply, "here");
    };
    const auto& prefix = conn_->options().subject_prefix;
    auto member_sub = AsyncSubscription::Open(
        conn_->nc(), MemberSubject(prefix, topic_, group_, member_), "", answer);
    if (!member_sub.ok()) return member_sub.status();
    member_sub_ = std::move(member_sub).value();
    auto serve_sub =
        AsyncSubscription::Open(conn_->nc(), ServeSubject(prefix, topic_), "serve", answer);
    if (!serve_sub.ok()) return serve_sub.status();
    serve_sub_ = std::move(serve_sub).value();
    // The server knows of both subscriptions before Subscribe returns.
    return FromNats(natsConnection_FlushTimeout(conn_->nc(), conn_->timeout_ms()),
                    "subscribing to " + topic_);
  }

  const std::string& member() const override { return member_; }

  Result<std::vector<Delivery>> Poll(size_t max, milliseconds timeout) override {
    std::vector<Delivery> out;
    if (max == 0) return out;
    SweepExpired();
    natsMsgList list{nullptr, 0};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const int batch = static_cast<int>(std::min<size_t>(max, 1 << 20));
    const natsStatus s = natsSubscription_Fetch(&list, pull_, batch,
                                                std::max<int64_t>(timeout.count(), 1), &jerr);
    if (s == NATS_TIMEOUT) return out;
    if (s != NATS_OK) {
      return FromNats(s, "fetching from group " + group_ + " of topic " + topic_, jerr);
    }
    for (int i = 0; i < list.Count; ++i) {
      NatsMsgPtr msg(list.Msgs[i]);
      list.Msgs[i] = nullptr;
      if (auto delivery = Admit(std::move(msg))) out.push_back(std::move(*delivery));
    }
    natsMsgList_Destroy(&list);
    return out;
  }

  void SetReadyCallback(std::function<void()>) override {
    // Poll's Fetch waits for messages by itself (a pull request the server answers).
  }

  Status Ack(PartitionId partition, Offset offset) override {
    return DoAck(partition, offset, std::nullopt);
  }
  Status Nack(PartitionId partition, Offset offset, std::optional<milliseconds> delay,
              std::string error) override {
    return DoNack(partition, offset, std::nullopt, delay, std::move(error));
  }
  Result<TimePoint> Extend(PartitionId partition, Offset offset) override {
    return DoExtend(partition, offset, std::nullopt);
  }
  Status Reject(PartitionId partition, Offset offset, std::string reason) override {
    return DoReject(partition, offset, std::nullopt, std::move(reason));
  }

  // The same, for one delivery: a settle naming an attempt whose lease has ended (even if the
  // message was fetched by this member again since) fails instead of settling the redelivery.
  Status AckAttempt(PartitionId partition, Offset offset, uint32_t attempt) override {
    return DoAck(partition, offset, attempt);
  }
  void AckAttemptAsync(PartitionId partition, Offset offset, uint32_t attempt,
                       std::function<void(Status)> done) override {
    done(DoAck(partition, offset, attempt));  // an ack is one core NATS publish: no waiting
  }
  Status NackAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                     std::optional<milliseconds> delay, std::string error) override {
    return DoNack(partition, offset, attempt, delay, std::move(error));
  }
  Result<TimePoint> ExtendAttempt(PartitionId partition, Offset offset,
                                  uint32_t attempt) override {
    return DoExtend(partition, offset, attempt);
  }
  Status RejectAttempt(PartitionId partition, Offset offset, uint32_t attempt,
                       std::string reason) override {
    return DoReject(partition, offset, attempt, std::move(reason));
  }
  // JetStream cannot give a message back without counting the delivery: the closest is a -NAK
  // with no delay (redelivered at once, no error recorded, never dead-lettered here even on the
  // last attempt), and the next delivery's attempt is one higher. See the header.
  Status ReleaseAttempt(PartitionId partition, Offset offset, uint32_t attempt) override {
    auto lease = Take(partition, offset, attempt, /*keep=*/false);
    if (!lease.ok()) return lease.status();
    return conn_->PublishText(lease->ack_subject, "-NAK");
  }

 private:
  struct Lease {
    std::shared_ptr<natsMsg> msg;  // the delivery as received, for a dead letter
    std::string ack_subject;
    PartitionId partition;
    uint32_t attempt = 0;
    steady_clock::time_point expires;
    TimePoint first_delivery{};
  };
  struct History {
    TimePoint first_delivery{};
    std::string last_error;
    uint32_t last_attempt = 0;  // the highest attempt this member handed out (see Admit)
  };

  Status DoAck(PartitionId partition, Offset offset, std::optional<uint32_t> attempt) {
    auto lease = Take(partition, offset, attempt, /*keep=*/false);
    if (!lease.ok()) return lease.status();
    Forget(offset.value());
    return conn_->PublishText(lease->ack_subject, "+ACK");
  }

  Status DoNack(PartitionId partition, Offset offset, std::optional<uint32_t> attempt,
                std::optional<milliseconds> delay, std::string error) {
    auto lease = Take(partition, offset, attempt, /*keep=*/false);
    if (!lease.ok()) return lease.status();
    Remember(offset.value(), lease->first_delivery, &error);
    if (config_.max_deliveries > 0 && lease->attempt >= config_.max_deliveries) {
      return DeadLetter(*lease, "max_deliveries", error, lease->attempt);
    }
    std::chrono::microseconds wait;
    if (delay) {
      wait = std::max(milliseconds(0), *delay);
    } else {
      thread_local std::mt19937_64 rng(std::random_device{}());
      wait = delivery::BackoffDelay(config_.backoff, lease->attempt,
                                    std::uniform_real_distribution<double>(-1.0, 1.0)(rng));
    }
    const int64_t ns = std::chrono::duration_cast<nanoseconds>(wait).count();
    return conn_->PublishText(lease->ack_subject,
                              ns > 0 ? "-NAK {\"delay\":" + std::to_string(ns) + "}" : "-NAK");
  }

  Result<TimePoint> DoExtend(PartitionId partition, Offset offset,
                             std::optional<uint32_t> attempt) {
    auto lease = Take(partition, offset, attempt, /*keep=*/true);
    if (!lease.ok()) return lease.status();
    Status sent = conn_->PublishText(lease->ack_subject, "+WPI");
    if (!sent.ok()) return sent;
    std::lock_guard lock(mu_);
    auto it = leases_.find(offset.value());
    if (it == leases_.end() || it->second.attempt != lease->attempt) {
      return NotLeased(partition, offset);
    }
    it->second.expires = steady_clock::now() + config_.ack_timeout;
    return clock_->Now() +
           std::chrono::duration_cast<std::chrono::microseconds>(config_.ack_timeout);
  }

  Status DoReject(PartitionId partition, Offset offset, std::optional<uint32_t> attempt,
                  std::string reason) {
    auto lease = Take(partition, offset, attempt, /*keep=*/false);
    if (!lease.ok()) return lease.status();
    Remember(offset.value(), lease->first_delivery, &reason);
    return DeadLetter(*lease, "rejected", reason, lease->attempt);
  }

  static Status NotLeased(PartitionId partition, Offset offset) {
    return Status::FailedPrecondition(
        "message " + std::to_string(partition.value()) + "/" + std::to_string(offset.value()) +
        " is not leased to this member (never delivered, already settled, or its lease expired)");
  }

  // Records a fetched message as a lease and returns its Delivery, or dead-letters it (and returns
  // nothing) if it is the extra delivery after max_deliveries.
  std::optional<Delivery> Admit(NatsMsgPtr owned) {
    natsMsg* msg = owned.get();
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return std::nullopt;  // not a JetStream message
    const uint64_t seq = meta->Sequence.Stream;
    const auto num_delivered = static_cast<uint32_t>(meta->NumDelivered);
    const auto published = TimePoint(std::chrono::microseconds(meta->Timestamp / 1000));
    jsMsgMetaData_Destroy(meta);
    const char* reply = natsMsg_GetReply(msg);
    if (reply == nullptr || seq == 0) return std::nullopt;

    Lease lease;
    lease.ack_subject = reply;
    lease.partition = PartitionId(PartitionOfSubject(natsMsg_GetSubject(msg)).value_or(0));
    lease.expires = steady_clock::now() + config_.ack_timeout;
    const TimePoint now = clock_->Now();
    Record record = DecodeRecord(msg);
    record.partition = lease.partition;
    record.offset = Offset(seq - 1);
    record.timestamp = published;
    lease.msg = std::shared_ptr<natsMsg>(owned.release(), natsMsg_Destroy);

    std::string last_error;
    uint32_t attempt = num_delivered;
    {
      std::lock_guard lock(mu_);
      auto [it, inserted] = history_.try_emplace(seq - 1, History{now, "", 0});
      lease.first_delivery = it->second.first_delivery;
      last_error = it->second.last_error;
      // nats-server before 2.10.14 (nats-io/nats-server#5305) can hand a message out again with a
      // NumDelivered it already had: when the redelivery it picks finds no live pull request
      // (the waiting one just expired, or its member left), it drops that redelivery and delivers
      // the message once more as new, NumDelivered 1, although it counted the dropped delivery.
      // A handler would then see attempt 1 twice. Attempts this member saw only go up: one past
      // the last, which is also the server's count (its next redelivery is one higher again).
      attempt = std::max(num_delivered, it->second.last_attempt + 1);
      it->second.last_attempt = attempt;
      if (inserted && history_.size() > kMaxHistory) history_.erase(history_.begin());
    }
    lease.attempt = attempt;
    if (config_.max_deliveries > 0 && attempt > config_.max_deliveries) {
      // Its last lease expired: dead-letter it now; the application never sees this delivery.
      (void)DeadLetter(lease, "max_deliveries",
                       last_error.empty() ? "lease expired (not acked in time)" : last_error,
                       config_.max_deliveries);
      return std::nullopt;
    }
    Delivery delivery{
        std::move(record), attempt,
        now + std::chrono::duration_cast<std::chrono::microseconds>(config_.ack_timeout),
        config_.ack_timeout};
    std::lock_guard lock(mu_);
    leases_[seq - 1] = std::move(lease);
    return delivery;
  }

  // The lease of (partition, offset) if this member holds it (of delivery `attempt`, if given) and
  // it has not expired; removed unless `keep`.
  Result<Lease> Take(PartitionId partition, Offset offset, std::optional<uint32_t> attempt,
                     bool keep) {
    std::lock_guard lock(mu_);
    auto it = leases_.find(offset.value());
    if (it == leases_.end() || it->second.partition != partition) return NotLeased(partition, offset);
    if (attempt && it->second.attempt != *attempt) {
      return Status::FailedPrecondition(
          "the lease of delivery " + std::to_string(*attempt) + " of message " +
          std::to_string(partition.value()) + "/" + std::to_string(offset.value()) +
          " has ended (the message was delivered again since)");
    }
    if (steady_clock::now() > it->second.expires) {
      leases_.erase(it);
      return Status::FailedPrecondition(
          "the lease of message " + std::to_string(partition.value()) + "/" +
          std::to_string(offset.value()) + " expired (ack_timeout " +
          std::to_string(config_.ack_timeout.count()) + " ms); it will be redelivered");
    }
    Lease lease = it->second;
    if (!keep) leases_.erase(it);
    return lease;
  }

  void SweepExpired() {
    const auto now = steady_clock::now();
    std::lock_guard lock(mu_);
    for (auto it = leases_.begin(); it != leases_.end();) {
      it = now > it->second.expires ? leases_.erase(it) : std::next(it);
    }
  }

  void Remember(uint64_t offset, TimePoint first_delivery, const std::string* error) {
    std::lock_guard lock(mu_);
    History& h = history_[offset];
    if (h.first_delivery == TimePoint{}) h.first_delivery = first_delivery;
    if (error != nullptr) h.last_error = *error;
  }

  void Forget(uint64_t offset) {
    std::lock_guard lock(mu_);
    history_.erase(offset);
  }

  // Appends the dead letter to "<topic>.<group>.dlq" and waits for JetStream to store it; only
  // then terminates the original. If the append fails the original stays unsettled and comes back.
  Status DeadLetter(const Lease& lease, const std::string& reason,
                    const std::string& last_error, uint32_t attempts) {
    Record original = DecodeRecord(lease.msg.get());
    jsMsgMetaData* meta = nullptr;
    uint64_t seq = 0;
    if (natsMsg_GetMetaData(&meta, lease.msg.get()) == NATS_OK) {
      seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
    }
    original.partition = lease.partition;
    original.offset = Offset(seq == 0 ? 0 : seq - 1);
    delivery::DeadRecord dead;
    dead.partition = original.partition;
    dead.offset = original.offset;
    dead.reason = reason;
    dead.last_error = last_error;
    dead.attempts = attempts;
    dead.first_delivery = lease.first_delivery;
    dead.dead_at = clock_->Now();
    Message letter = delivery::BuildDeadLetterMessage(original, topic_, group_, dead);
    // A dead letter written twice (a crash between append and terminate) is stored once.
    letter.idempotency_key = "dlq:" + StreamName(topic_) + ":" + ConsumerName(group_) + ":" +
                             std::to_string(seq);

    auto dlq = conn_->EnsureTopic(dlq_topic_);
    if (!dlq.ok()) return dlq.status();
    const std::string subject = PartitionSubject(conn_->options().subject_prefix, dlq_topic_,
                                                 NatsConnection::ChoosePartition(letter, *dlq));
    const PubAck stored = conn_->PublishSync(subject, letter);
    if (!stored.status.ok()) {
      return Status(stored.status.code(), "could not write the dead letter to " + dlq_topic_ +
                                              " (the message stays unsettled and comes back): " +
                                              stored.status.message());
    }
    Forget(original.offset.value());
    return conn_->PublishText(lease.ack_subject, "+TERM");
  }

  // Constant after construction.
  const std::shared_ptr<NatsConnection> conn_;
  const std::shared_ptr<Clock> clock_;
  const std::string topic_;
  const std::string group_;
  const std::string member_;
  const std::string member_key_;
  const GroupConfig config_;
  const std::string dlq_topic_;
  natsSubscription* pull_ = nullptr;  // set in Start
  std::unique_ptr<AsyncSubscription> member_sub_;
  std::unique_ptr<AsyncSubscription> serve_sub_;

  std::mutex mu_;
  std::map<uint64_t, Lease> leases_;  // guarded by mu_; by offset (stream sequence - 1)
  std::map<uint64_t, History> history_;      // guarded by mu_
};

}  // namespace

GroupConfig GroupConfigOf(const jsConsumerInfo& info) {
  if (info.Config != nullptr && info.Config->Description != nullptr) {
    if (auto decoded = DecodeGroupConfig(info.Config->Description)) return *decoded;
  }
  GroupConfig config;
  if (info.Config != nullptr) {
    config.ack_timeout =
        std::chrono::duration_cast<milliseconds>(nanoseconds(info.Config->AckWait));
    config.max_deliveries =
        info.Config->MaxDeliver <= 0 ? 0 : static_cast<uint32_t>(info.Config->MaxDeliver);
    config.start = info.Config->DeliverPolicy == js_DeliverNew ? StartPosition::kLatest
                                                                : StartPosition::kEarliest;
  }
  return config;
}

Result<std::unique_ptr<Subscription>> OpenNatsSubscription(std::shared_ptr<NatsConnection> conn,
                                                           std::string_view topic,
                                                           std::string_view group,
                                                           const SubscribeOptions& options) {
  if (Status s = ValidateGroupName(group); !s.ok()) return s;
  if (auto topic_info = conn->EnsureTopic(topic); !topic_info.ok()) return topic_info.status();
  auto info = EnsureConsumer(*conn, StreamName(topic), ConsumerName(group), options.group);
  if (!info.ok()) return info.status();
  const GroupConfig config = GroupConfigOf(**info);

  std::string member = options.member.empty() ? RandomMemberName() : options.member;
  const std::string key = std::string(topic) + "/" + std::string(group) + "/" + member;
  if (!conn->RegisterMember(key)) {
    return Status::AlreadyExists("member '" + member + "' is already subscribed to group '" +
                                 std::string(group) + "' of topic '" + std::string(topic) + "'");
  }
  // Another process: ask whoever answers on the member's subject.
  natsMsg* reply = nullptr;
  const std::string probe =
      MemberSubject(conn->options().subject_prefix, topic, group, member);
  const natsStatus s = natsConnection_RequestString(&reply, conn->nc(), probe.c_str(), "?",
                                                    kProbeTimeout.count());
  if (reply != nullptr) natsMsg_Destroy(reply);
  if (s == NATS_OK) {
    conn->UnregisterMember(key);
    return Status::AlreadyExists("member '" + member + "' is already subscribed to group '" +
                                 std::string(group) + "' of topic '" + std::string(topic) +
                                 "' (by another client)");
  }
  auto subscription = std::make_unique<NatsSubscription>(conn, std::string(topic),
                                                         std::string(group), member, config);
  if (Status started = subscription->Start(); !started.ok()) return started;
  return std::unique_ptr<Subscription>(std::move(subscription));
}

}  // namespace broker::client::nats_internal
