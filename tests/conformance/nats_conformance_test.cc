// The conformance suites over the NATS JetStream transport, against a real 3-node nats-server
// cluster (JetStream, R3 streams) on loopback ports. Starting a cluster takes about a second and
// every test uses its own topics, so one cluster serves the whole binary (ctest runs the binary as
// one test). Same bodies, unchanged; the few behaviours JetStream cannot match are skipped here
// with the reason, and listed in docs/scale-out.md.
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

}  // namespace

BROKER_INSTANTIATE_CONFORMANCE_SUITES(kNats);

}  // namespace broker::conformance
