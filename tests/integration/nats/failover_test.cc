// Failover on the NATS JetStream transport: a 3-node cluster (R3 streams) loses the node both the
// producer and the consumer are connected to (SIGKILL) while they publish and consume. No publish
// that was acknowledged is lost, producer retries with their idempotency key append nothing twice,
// and the consumer carries on through libnats's reconnect to the surviving nodes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "broker/client/nats_transport.h"
#include "nats_cluster.h"

namespace broker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr int kMessages = 300;
constexpr int kKillAfter = kMessages / 3;  // acknowledged publishes before the node dies

// Payloads seen by the consumer, with a wait for a count of distinct ones.
class Seen {
 public:
  void Add(const std::string& payload) {
    {
      std::lock_guard lock(mu_);
      distinct_.insert(payload);
      ++deliveries_;
    }
    cv_.notify_all();
  }
  bool WaitForDistinct(size_t n, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return distinct_.size() >= n; });
  }
  size_t distinct() const {
    std::lock_guard lock(mu_);
    return distinct_.size();
  }
  std::set<std::string> values() const {
    std::lock_guard lock(mu_);
    return distinct_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> distinct_;  // guarded by mu_
  size_t deliveries_ = 0;           // guarded by mu_
};

class NatsFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("nats-failover-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::string error;
    cluster_ = testing::NatsCluster::Start(dir_, 3, &error);
    ASSERT_TRUE(cluster_.has_value()) << error;
  }
  void TearDown() override {
    if (cluster_) cluster_->Stop();
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Seeded with node 0 only: the client connects there and learns the other nodes from it, so
  // killing node 0 takes away the server it uses.
  client::NatsTransportOptions OnNodeZero() const {
    client::NatsTransportOptions options;
    options.address = cluster_->node_address(0);
    options.call_timeout = seconds(5);
    return options;
  }

  std::string dir_;
  std::optional<testing::NatsCluster> cluster_;
};

TEST_F(NatsFailoverTest, KillingANodeLosesNoAcknowledgedPublishAndConsumersCarryOn) {
  const std::string topic = "failover.orders";
  auto producer = client::ConnectNats(OnNodeZero());
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  // The cluster accepts R3 streams once JetStream's metadata group has every peer.
  Status created;
  const auto ready_by = steady_clock::now() + seconds(30);
  do {
    created = (*producer)->Publish(topic, {.payload = "warm-up", .idempotency_key = "warm-up"}).get().status();
  } while (!created.ok() && steady_clock::now() < ready_by);
  ASSERT_TRUE(created.ok()) << created.ToString();

  auto consumer_client = client::ConnectNats(OnNodeZero());
  ASSERT_TRUE(consumer_client.ok()) << consumer_client.status().ToString();
  Seen seen;
  client::ConsumerOptions consumer_options;
  consumer_options.concurrency = 2;
  consumer_options.group.ack_timeout = seconds(5);
  auto consumer = (*consumer_client)->Subscribe(
      topic, "workers", [&](const client::ReceivedMessage& m) { seen.Add(m.record.payload); },
      consumer_options);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();

  // The producer retries each message until it is acknowledged (same idempotency key), as a
  // service does on kUnavailable / kDeadlineExceeded.
  std::mutex progress_mu;
  std::condition_variable progress_cv;
  int acknowledged = 0;  // guarded by progress_mu
  bool finished = false;  // guarded by progress_mu
  std::string failure;    // guarded by progress_mu
  std::atomic<int> retries{0};
  std::thread producing([&] {
    const auto give_up = steady_clock::now() + seconds(120);
    for (int i = 0; i < kMessages; ++i) {
      Message m{.key = "customer-" + std::to_string(i % 7),
                .payload = "order-" + std::to_string(i),
                .idempotency_key = "order-" + std::to_string(i)};
      for (;;) {
        auto r = (*producer)->Publish(topic, m).get();
        if (r.ok()) break;
        ++retries;
        if (steady_clock::now() > give_up) {
          std::lock_guard lock(progress_mu);
          failure = "order-" + std::to_string(i) + " never acknowledged: " + r.status().ToString();
          finished = true;
          progress_cv.notify_all();
          return;
        }
      }
      std::lock_guard lock(progress_mu);
      ++acknowledged;
      progress_cv.notify_all();
    }
    std::lock_guard lock(progress_mu);
    finished = true;
    progress_cv.notify_all();
  });

  // Kill node 0 once a third of the messages are in, while both sides are busy.
  {
    std::unique_lock lock(progress_mu);
    progress_cv.wait_for(lock, seconds(60), [&] { return acknowledged >= kKillAfter || finished; });
  }
  const size_t consumed_before_kill = seen.distinct();
  cluster_->Kill(0);

  producing.join();
  {
    std::lock_guard lock(progress_mu);
    ASSERT_TRUE(failure.empty()) << failure;
    EXPECT_EQ(acknowledged, kMessages);
  }
  EXPECT_GT(consumed_before_kill, 0u) << "the consumer had not started before the kill";

  // Every acknowledged message reaches the consumer (at least once), including those published
  // after the kill: the consumer carried on.
  ASSERT_TRUE(seen.WaitForDistinct(kMessages + 1, seconds(90)))
      << "consumed " << seen.distinct() << " of " << kMessages + 1 << " distinct messages ("
      << consumed_before_kill << " before the kill, " << retries.load() << " publish retries)";
  const auto values = seen.values();
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_TRUE(values.count("order-" + std::to_string(i))) << "order-" << i << " was lost";
  }
  ASSERT_TRUE((*consumer)->Close().ok());
  std::cout << "failover: " << consumed_before_kill << " consumed before the kill, "
            << retries.load() << " publish retries after it\n";

  // Retries after the failover appended nothing twice: the stream holds exactly what was sent.
  client::NatsTransportOptions survivors;
  survivors.address = cluster_->address();
  auto lag = client::DescribeNatsGroup(survivors, topic, "workers");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  EXPECT_EQ(lag->total.end_offset, Offset(kMessages + 1)) << "a retried publish was stored twice";
  EXPECT_EQ(lag->total.backlog, 0u);
}

}  // namespace
}  // namespace broker
