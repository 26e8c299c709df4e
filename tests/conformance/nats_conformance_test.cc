// The conformance suites over the NATS JetStream transport, against a real 3-node nats-server
// cluster (JetStream, R3 streams) on loopback ports. Starting a cluster takes about a second and
// every test uses its own topics, so one cluster serves the whole binary (ctest runs the binary as
// one test). Same bodies, unchanged; the few behaviours JetStream cannot match are skipped here
// with the reason, and listed in docs/scale-out.md.
#include <nats/nats.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "broker/client/nats_transport.h"
#include "conformance_test.h"
#include "nats_cluster.h"

namespace broker::conformance {
namespace {

// The cluster shared by every test of this binary; stopped by the environment at exit.
class NatsClusterEnvironment final : public ::testing::Environment {
 public:
  static NatsClusterEnvironment* Get() {
    static auto* env = static_cast<NatsClusterEnvironment*>(
        ::testing::AddGlobalTestEnvironment(new NatsClusterEnvironment()));
    return env;
  }

  // Starts the cluster on first use; empty string if that failed (error() says why).
  std::string address() {
    if (!cluster_ && error_.empty()) StartCluster();
    return cluster_ ? cluster_->address() : "";
  }
  const std::string& error() const { return error_; }

  void TearDown() override {
    if (cluster_) cluster_->Stop();
    cluster_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

 private:
  void StartCluster() {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nats-conformance-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    cluster_ = testing::NatsCluster::Start(dir_, 3, &error_);
    if (!cluster_) return;
    // JetStream accepts R3 streams once the metadata group has all three peers: wait for that.
    client::NatsTransportOptions options;
    options.address = cluster_->address();
    auto client = client::ConnectNats(options);
    Status last = client.status();
    const bool ready = client.ok() && Eventually(
                                          [&] {
                                            last = (*client)->Publish("cluster-ready", {}).get().status();
                                            return last.ok();
                                          },
                                          std::chrono::seconds(30));
    if (!ready) {
      error_ = "the NATS cluster did not accept an R3 stream: " + last.ToString();
      cluster_.reset();
    }
  }

  std::string dir_;
  std::optional<testing::NatsCluster> cluster_;
  std::string error_;
};

class NatsFixture final : public TransportFixture {
 public:
  void SetUp() override {
    address_ = NatsClusterEnvironment::Get()->address();
    ASSERT_FALSE(address_.empty()) << NatsClusterEnvironment::Get()->error();
  }
  void TearDown() override {}

  std::unique_ptr<client::Client> NewClient(client::ClientOptions options) override {
    client::NatsTransportOptions transport;
    transport.address = address_;
    auto connected = client::ConnectNats(transport, std::move(options));
    EXPECT_TRUE(connected.ok()) << connected.status().ToString();
    return connected.ok() ? std::move(connected).value() : nullptr;
  }
  Broker* admin() override { return nullptr; }
  bool release_restores_attempt() const override { return false; }

  std::string SkipReason(std::string_view suite, std::string_view test) override {
    // Behaviours JetStream cannot match (docs/scale-out.md, "Differences"), by test.
    static const std::map<std::string, std::string, std::less<>> kDifferences = {};
    auto it = kDifferences.find(std::string(suite) + "." + std::string(test));
    return it == kDifferences.end() ? "" : it->second;
  }

 private:
  std::string address_;
};

const TransportParam kNats{"nats", [] { return std::make_unique<NatsFixture>(); }};

// Lag comes from JetStream's consumer info (DescribeNatsGroup), not from an admin API of the
// transport: checked here, outside the shared bodies.
TEST(NatsLagTest, DescribeGroupReportsBacklogAckFloorAndDeadLetters) {
  const std::string address = NatsClusterEnvironment::Get()->address();
  ASSERT_FALSE(address.empty()) << NatsClusterEnvironment::Get()->error();
  client::NatsTransportOptions options;
  options.address = address;
  auto client = Must(client::ConnectNats(options));
  const std::string topic =
      "lag-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 0; i < 3; ++i) {
    CONFORMANCE_ASSERT_OK(client->Publish(topic, {.payload = std::to_string(i)}).get());
  }
  {
    auto consumer = Must(client->Subscribe(topic, "billing", [](const client::ReceivedMessage&) {}));
    ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 3; }));
    CONFORMANCE_ASSERT_OK(consumer->Close());
  }
  for (int i = 3; i < 5; ++i) {
    CONFORMANCE_ASSERT_OK(client->Publish(topic, {.payload = std::to_string(i)}).get());
  }
  auto lag = Must(client::DescribeNatsGroup(options, topic, "billing"));
  EXPECT_EQ(lag.topic, topic);
  EXPECT_EQ(lag.dlq_topic, topic + ".billing.dlq");
  EXPECT_EQ(lag.total.end_offset, Offset(5));
  EXPECT_EQ(lag.total.ack_floor, Offset(3));
  EXPECT_EQ(lag.total.backlog, 2u);
  EXPECT_EQ(lag.total.in_flight, 0u);
  EXPECT_EQ(lag.total.unsettled, 2u);
  EXPECT_GT(lag.total.oldest_unsettled_age.count(), 0);
  EXPECT_EQ(lag.dlq_depth, 0u);
  EXPECT_EQ(lag.config.max_deliveries, 5u) << "the group's config is kept in its consumer";

  // Rejected messages are dead letters: the DLQ depth counts them; nothing is left unsettled.
  auto rejecting = Must(client->SubscribeManual(topic, "billing", [](client::MessageContext& ctx) {
    EXPECT_TRUE(ctx.Reject("not today").ok());
  }));
  // The figures live in the NATS servers, which notify nobody: ask them, gently (each check
  // opens a connection and asks three JetStream APIs), until a deadline.
  GroupInfo now;
  ASSERT_TRUE(Eventually(
      [&] {
        auto described = client::DescribeNatsGroup(options, topic, "billing");
        if (described.ok()) now = *described;
        return described.ok() && now.dlq_depth == 2 && now.total.unsettled == 0;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50)))
      << "dead letters did not show in the lag: dlq_depth " << now.dlq_depth << ", unsettled "
      << now.total.unsettled;

  EXPECT_EQ(client::DescribeNatsGroup(options, topic, "nobody").status().code(),
            StatusCode::kNotFound);
}

// JetStream gives up on a message after MaxDeliver deliveries with only an advisory; the transport
// sets MaxDeliver one higher and dead-letters on that extra delivery, so a message whose every
// lease expired still reaches the DLQ, and the handler never sees the extra delivery.
TEST(NatsDeadLetterTest, ExpiredLeasesExhaustMaxDeliveriesIntoTheDeadLetterStream) {
  const std::string address = NatsClusterEnvironment::Get()->address();
  ASSERT_FALSE(address.empty()) << NatsClusterEnvironment::Get()->error();
  client::NatsTransportOptions options;
  options.address = address;
  auto client = Must(client::ConnectNats(options));
  const std::string topic =
      "expiry-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  CONFORMANCE_ASSERT_OK(client->Publish(topic, {.key = "k", .payload = "ignored"}).get());
  client::ConsumerOptions consumer_options;
  consumer_options.group = FastRetry(/*max_deliveries=*/2, std::chrono::milliseconds(10));
  consumer_options.group.ack_timeout = std::chrono::milliseconds(100);
  Recorder<uint32_t> attempts;
  auto forgetful = Must(client->SubscribeManual(
      topic, "audit", [&](client::MessageContext& ctx) { attempts.Add(ctx.message().attempt); },
      consumer_options));

  Recorder<client::ReceivedMessage> letters;
  auto reader = Must(client->Subscribe(topic + ".audit.dlq", "reader",
                                       [&](const client::ReceivedMessage& m) { letters.Add(m); }));
  ASSERT_TRUE(letters.WaitForCount(1)) << "nothing reached " << topic << ".audit.dlq";
  const client::ReceivedMessage letter = letters.values()[0];
  const Headers& h = letter.record.headers;
  EXPECT_EQ(HeaderOr(h, "dlq.reason"), "max_deliveries");
  EXPECT_EQ(HeaderOr(h, "dlq.attempts"), "2");
  EXPECT_EQ(HeaderOr(h, "dlq.last_error"), "lease expired (not acked in time)");
  EXPECT_EQ(HeaderOr(h, "dlq.original_topic"), topic);
  EXPECT_EQ(HeaderOr(h, "dlq.original_offset"), "0");
  EXPECT_EQ(letter.record.key, "k");
  EXPECT_EQ(attempts.values(), (std::vector<uint32_t>{1, 2}));
}

// nats-server before 2.10.14 (the Debian 2.9.10 these tests run) has a redelivery that finds no
// live pull request dropped and the message handed out again as new, NumDelivered 1
// (nats-io/nats-server#5305): a handler saw attempt 1 twice (ManualConformance.
// NackWithDelayRedeliversAfterThatDelay failed so under load, when its 60 ms redelivery met a pull
// request that had just expired). Here a pull request whose reply nobody hears makes the server
// take that path every time; the member still reports the attempts in order.
TEST(NatsRedeliveryTest, AttemptsGoUpWhenTheServerRepeatsADeliveryCount) {
  const std::string address = NatsClusterEnvironment::Get()->address();
  ASSERT_FALSE(address.empty()) << NatsClusterEnvironment::Get()->error();
  client::NatsTransportOptions options;
  options.address = address;
  // Only [A-Za-z0-9_-]: the stream and the consumer are named as the topic and the group.
  const std::string topic =
      "recount-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::string group = "billing";
  auto client = Must(client::ConnectNats(options));
  CONFORMANCE_ASSERT_OK(client->Publish(topic, {.payload = "x"}).get());
  auto transport = Must(client::MakeNatsTransport(options));
  auto member = Must(transport->Subscribe(topic, group, {}));
  auto poll_one = [&] {
    auto polled = member->Poll(1, kWait);
    EXPECT_TRUE(polled.ok()) << polled.status().ToString();
    EXPECT_EQ(polled.ok() ? polled->size() : 0u, 1u);
    return polled.ok() && !polled->empty() ? (*polled)[0] : Delivery{};
  };
  const Delivery first = poll_one();
  ASSERT_EQ(first.attempt, 1u);
  // Back to the group at once: the server queues the redelivery until a pull request comes.
  CONFORMANCE_ASSERT_OK(member->NackAttempt(first.record.partition, first.record.offset, 1,
                                            std::chrono::milliseconds(0), "busy"));

  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, address.c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  const std::string next = "$JS.API.CONSUMER.MSG.NEXT." + topic + "." + group;
  const std::string nobody = "_INBOX.nobody-" + topic;
  // Each pull request whose reply subject has no subscriber is dropped; the first one the server
  // sees after the nack also drops the queued redelivery and moves the consumer back one message,
  // which shows as one message pending again (the only state of it the server reports). Pull
  // requests that arrive before the nack are dropped with no effect.
  uint64_t pending = 0;
  const bool dropped = Eventually([&] {
    if (natsConnection_PublishRequestString(nc, next.c_str(), nobody.c_str(),
                                            R"({"batch":1,"expires":5000000000})") != NATS_OK ||
        natsConnection_Flush(nc) != NATS_OK) {
      return false;
    }
    jsConsumerInfo* info = nullptr;
    if (js_GetConsumerInfo(&info, js, topic.c_str(), group.c_str(), nullptr, nullptr) != NATS_OK) {
      return false;
    }
    pending = info->NumPending;
    jsConsumerInfo_Destroy(info);
    return pending == 1;
  });
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  ASSERT_TRUE(dropped) << "the server never took the dropped-redelivery path (" << pending
                       << " pending); fixed in this nats-server version?";

  // JetStream says NumDelivered 1 again; this is the member's second delivery of the message.
  const Delivery second = poll_one();
  EXPECT_EQ(second.record.offset, first.record.offset);
  EXPECT_EQ(second.attempt, 2u);
  CONFORMANCE_ASSERT_OK(member->NackAttempt(second.record.partition, second.record.offset,
                                            second.attempt, std::chrono::milliseconds(0), "busy"));
  // The server counted the dropped delivery, so its next count is 3 again: no attempt repeats.
  const Delivery third = poll_one();
  EXPECT_EQ(third.attempt, 3u);
  CONFORMANCE_ASSERT_OK(member->AckAttempt(third.record.partition, third.record.offset,
                                           third.attempt));
}

}  // namespace

BROKER_INSTANTIATE_CONFORMANCE_SUITES(kNats);

}  // namespace broker::conformance
