// The NATS JetStream Transport: publishing (JetStream, acknowledged per message), subscriptions
// (nats_subscription.cc), reply inboxes (core NATS subscriptions) and the presence probe behind
// no_responders. DescribeNatsGroup turns consumer info into lag.
#include "broker/client/nats_transport.h"

#include <atomic>
#include <mutex>
#include <string_view>

#include "delivery/dead_letters.h"
#include "nats_connection.h"
#include "nats_names.h"
#include "nats_subscription.h"
#include "storage/validation.h"

namespace broker::client {
namespace nats_internal {
namespace {

// How long HasSubscribers waits for a member to answer. Without any member the server says "no
// responders" at once; a timeout means the last member has just left.
constexpr std::chrono::milliseconds kServeProbeTimeout(1000);

// One batch publish: the results arrive per message, in any order; `done` runs once all did.
struct BatchPublish {
  std::mutex mu;
  std::vector<PublishResult> results;  // guarded by mu
  size_t remaining = 0;                // guarded by mu
  Status first_error;                  // guarded by mu
  Transport::PublishCallback done;
};

// What a closed inbox answers a reply with; the sender reports kNotFound for it.
constexpr std::string_view kInboxGone = "inbox-closed";

class NatsInbox final : public Inbox {
 public:
  NatsInbox(std::shared_ptr<NatsConnection> conn, std::string address)
      : conn_(std::move(conn)), address_(std::move(address)) {}
  // From now on, replies are answered "gone" and not handed on (kNotFound for their sender). The
  // subscription stays with the connection until it closes (NatsConnection::Retire says why);
  // after that the servers answer "no responders", which is kNotFound too.
  ~NatsInbox() override {
    closed_->store(true);
    if (sub_) conn_->Retire(std::move(sub_));
    if (listener_ != 0) conn_->RemoveClosedListener(listener_);
  }
  const std::string& address() const override { return address_; }

  std::shared_ptr<NatsConnection> conn_;
  std::string address_;
  std::unique_ptr<AsyncSubscription> sub_;
  std::shared_ptr<std::atomic<bool>> closed_ = std::make_shared<std::atomic<bool>>(false);
  uint64_t listener_ = 0;
};

class NatsTransport final : public Transport {
 public:
  explicit NatsTransport(std::shared_ptr<NatsConnection> conn) : conn_(std::move(conn)) {}

  void Publish(std::string_view topic, std::vector<Message> messages,
               const PublishOptions& options, PublishCallback done) override {
    // Durability is JetStream's (acknowledged once a majority of replicas stored it); the
    // per-publish option has no equivalent.
    if (Status s = storage::ValidateTopicName(topic); !s.ok()) return done(s);
    if (options.partition) {
      return done(Status::InvalidArgument(
          "publishing to an explicit partition is not supported over NATS JetStream"));
    }
    if (messages.empty()) return done(std::vector<PublishResult>{});
    if (options.require_subscribers) {  // NATS has no such publish: the presence probe first
      auto present = HasSubscribers(topic);
      if (!present.ok()) return done(present.status());
      if (!*present) {
        return done(Status::NoRespondersFor(topic));
      }
    }
    // The engine's limits and checks (its defaults), all before anything is sent: a batch with a
    // bad message publishes nothing, as on the other transports.
    const Limits limits;
    if (messages.size() > limits.max_batch_messages) {
      return done(Status::InvalidArgument(
          "batch has " + std::to_string(messages.size()) + " messages; the limit is " +
          std::to_string(limits.max_batch_messages)));
    }
    for (const Message& m : messages) {
      if (Status s = storage::ValidateMessage(m, limits, limits.max_message_bytes); !s.ok()) {
        return done(s);
      }
    }
    auto info = conn_->EnsureTopic(topic);
    if (!info.ok()) return done(info.status());
    auto batch = std::make_shared<BatchPublish>();
    batch->results.resize(messages.size());
    batch->remaining = messages.size();
    batch->done = std::move(done);
    for (size_t i = 0; i < messages.size(); ++i) {
      const uint32_t partition = NatsConnection::ChoosePartition(messages[i], *info);
      const std::string subject =
          PartitionSubject(conn_->options().subject_prefix, topic, partition);
      conn_->PublishAsync(subject, messages[i], [batch, i, partition](PubAck ack) {
        bool last = false;
        {
          std::lock_guard lock(batch->mu);
          if (ack.status.ok()) {
            batch->results[i] = PublishResult{PartitionId(partition), Offset(ack.seq - 1),
                                              ack.duplicate};
          } else if (batch->first_error.ok()) {
            batch->first_error = ack.status;
          }
          last = --batch->remaining == 0;
        }
        if (!last) return;
        if (!batch->first_error.ok()) {
          batch->done(batch->first_error);
        } else {
          batch->done(std::move(batch->results));
        }
      });
    }
  }

  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  const SubscribeOptions& options) override {
    if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
    if (Status s = storage::ValidateTopicName(delivery::DeadLetterTopic(topic, group)); !s.ok()) {
      return Status::InvalidArgument("the dead-letter topic of group '" + std::string(group) +
                                     "' would not be a valid topic name: " + s.message());
    }
    return OpenNatsSubscription(conn_, topic, group, options);
  }

  Result<std::unique_ptr<Inbox>> OpenInbox(Broker::ReplyHandler on_reply,
                                           std::function<void(Status)> on_closed) override {
    natsInbox* raw = nullptr;
    if (natsStatus s = natsInbox_Create(&raw); s != NATS_OK) {
      return FromNats(s, "creating a reply inbox");
    }
    auto inbox = std::make_unique<NatsInbox>(conn_, std::string(raw));
    natsInbox_Destroy(raw);
    auto deliver = [conn = conn_.get(), closed = inbox->closed_,
                    on_reply = std::move(on_reply)](natsMsg* msg) {
      // The sender waits for an answer: it learns whether the reply reached a live inbox.
      const char* to = natsMsg_GetReply(msg);
      if (closed->load()) {
        if (to != nullptr) (void)conn->PublishText(to, kInboxGone);
        return;
      }
      Record record = DecodeRecord(msg);
      Message reply;
      reply.payload = std::move(record.payload);
      reply.headers = std::move(record.headers);
      on_reply(std::move(reply));
      if (to != nullptr) (void)conn->PublishText(to, "");
    };
    auto sub = AsyncSubscription::Open(conn_->nc(), inbox->address(), "", std::move(deliver));
    if (!sub.ok()) return sub.status();
    inbox->sub_ = std::move(sub).value();
    if (on_closed) {
      inbox->listener_ = conn_->AddClosedListener([on_closed] {
        on_closed(Status::Unavailable("the connection to NATS was closed; replies to this "
                                      "inbox can no longer arrive"));
      });
    }
    if (natsStatus s = natsConnection_FlushTimeout(conn_->nc(), conn_->timeout_ms()); s != NATS_OK) {
      return FromNats(s, "opening a reply inbox");
    }
    return std::unique_ptr<Inbox>(std::move(inbox));
  }

  Status SendReply(std::string_view inbox, Message reply) override {
    if (inbox.empty() || inbox.find_first_of(" \t\r\n*>") != std::string_view::npos) {
      return Status::InvalidArgument("'" + std::string(inbox) + "' is not a reply inbox address");
    }
    auto msg = EncodeMessage(std::string(inbox), "", reply);
    if (!msg.ok()) return msg.status();
    natsMsg* answer = nullptr;
    const natsStatus s =
        natsConnection_RequestMsg(&answer, conn_->nc(), msg->get(), conn_->timeout_ms());
    bool gone = false;
    if (answer != nullptr) {
      gone = std::string_view(natsMsg_GetData(answer),
                              static_cast<size_t>(natsMsg_GetDataLength(answer))) == kInboxGone;
      natsMsg_Destroy(answer);
    }
    if (s == NATS_NO_RESPONDERS || gone) {
      return Status::NotFound("reply inbox " + std::string(inbox) +
                              " is closed (the requester has gone)");
    }
    return FromNats(s, "sending a reply to " + std::string(inbox));
  }

  Result<bool> HasSubscribers(std::string_view topic) override {
    if (Status s = storage::ValidateTopicName(topic); !s.ok()) return false;
    natsMsg* answer = nullptr;
    const std::string subject = ServeSubject(conn_->options().subject_prefix, topic);
    const natsStatus s = natsConnection_RequestString(&answer, conn_->nc(), subject.c_str(), "?",
                                                      kServeProbeTimeout.count());
    if (answer != nullptr) natsMsg_Destroy(answer);
    if (s == NATS_OK) return true;
    if (s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT) return false;
    return FromNats(s, "asking who serves " + std::string(topic));
  }

 private:
  const std::shared_ptr<NatsConnection> conn_;
};

struct StreamInfoDeleter {
  void operator()(jsStreamInfo* si) const { jsStreamInfo_Destroy(si); }
};

Result<std::unique_ptr<jsStreamInfo, StreamInfoDeleter>> GetStream(NatsConnection& conn,
                                                                   std::string_view topic) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const std::string stream = StreamName(topic);
  natsStatus s = js_GetStreamInfo(&si, conn.js(), stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return FromNats(s, "looking up stream " + stream, jerr);
  return std::unique_ptr<jsStreamInfo, StreamInfoDeleter>(si);
}

TimePoint FromNanos(int64_t ns) { return TimePoint(std::chrono::microseconds(ns / 1000)); }

}  // namespace
}  // namespace nats_internal

Result<std::unique_ptr<Transport>> MakeNatsTransport(const NatsTransportOptions& options) {
  auto conn = nats_internal::NatsConnection::Open(options);
  if (!conn.ok()) return conn.status();
  return std::unique_ptr<Transport>(new nats_internal::NatsTransport(std::move(conn).value()));
}

Result<std::unique_ptr<Client>> ConnectNats(const NatsTransportOptions& options,
                                            ClientOptions client_options) {
  auto transport = MakeNatsTransport(options);
  if (!transport.ok()) return transport.status();
  return Client::Connect(std::move(transport).value(), std::move(client_options));
}

bool IsNatsAddress(std::string_view address) {
  return address.substr(0, 7) == "nats://" || address.substr(0, 6) == "tls://";
}

Result<GroupInfo> DescribeNatsGroup(const NatsTransportOptions& options, std::string_view topic,
                                    std::string_view group) {
  using namespace nats_internal;
  auto opened = NatsConnection::Open(options);
  if (!opened.ok()) return opened.status();
  NatsConnection& conn = **opened;
  auto stream = GetStream(conn, topic);
  if (!stream.ok()) return stream.status();
  jsConsumerInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const std::string consumer = ConsumerName(group);
  natsStatus s = js_GetConsumerInfo(&raw, conn.js(), StreamName(topic).c_str(), consumer.c_str(),
                                    nullptr, &jerr);
  if (s != NATS_OK) return FromNats(s, "looking up consumer " + consumer, jerr);
  std::unique_ptr<jsConsumerInfo, void (*)(jsConsumerInfo*)> ci(raw, jsConsumerInfo_Destroy);

  GroupInfo info;
  info.topic = std::string(topic);
  info.group = std::string(group);
  info.config = GroupConfigOf(*ci);
  info.created_at = FromNanos(ci->Created);
  info.dlq_topic = delivery::DeadLetterTopic(topic, group);
  // JetStream keeps one sequence for the whole stream: lag is reported as one partition, with
  // offsets being stream sequences - 1.
  PartitionLag& total = info.total;
  total.partition = PartitionId(0);
  total.end_offset = Offset((*stream)->State.LastSeq);
  total.ack_floor = Offset(ci->AckFloor.Stream);
  total.backlog = ci->NumPending;
  // JetStream does not tell leased from waiting-for-redelivery: both are "ack pending".
  total.in_flight = static_cast<uint64_t>(std::max<int64_t>(0, ci->NumAckPending));
  total.delayed = 0;
  total.unsettled = total.backlog + total.in_flight;
  if (total.unsettled > 0) {
    // The oldest unsettled message is the first one above the ack floor.
    natsMsg* first = nullptr;
    jsErrCode get_err = static_cast<jsErrCode>(0);
    const uint64_t seq = std::max<uint64_t>(ci->AckFloor.Stream + 1, (*stream)->State.FirstSeq);
    if (js_GetMsg(&first, conn.js(), StreamName(topic).c_str(), seq, nullptr, &get_err) ==
        NATS_OK) {
      const TimePoint published = FromNanos(natsMsg_GetTime(first));
      const auto age = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch()) -
                       published.time_since_epoch();
      total.oldest_unsettled_age = std::max(std::chrono::microseconds(0), age);
      natsMsg_Destroy(first);
    }
  }
  info.partitions.push_back(total);
  info.counters.delivered = ci->Delivered.Consumer;
  info.counters.redelivered = static_cast<uint64_t>(std::max<int64_t>(0, ci->NumRedelivered));
  if (auto dlq = GetStream(conn, info.dlq_topic); dlq.ok()) {
    info.dlq_depth = (*dlq)->State.Msgs;
    if ((*dlq)->State.Msgs > 0) {
      const auto age = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch()) -
                       FromNanos((*dlq)->State.FirstTime).time_since_epoch();
      info.dlq_oldest_age = std::max(std::chrono::microseconds(0), age);
    }
  }
  return info;
}

}  // namespace broker::client
