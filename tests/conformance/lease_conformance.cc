// Lease management: a slow handler never causes double processing. Every message a consumer holds,
// queued or running, has its lease extended until it is settled or max_lease_extension passes;
// what no handler saw goes back to the group without counting an attempt.
//
// Short ack timeouts keep these fast; each lease is extended when half of it is left, so a
// loaded machine has hundreds of milliseconds of slack per extension.
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::ReceivedMessage;
using std::chrono::milliseconds;

struct Seen {
  std::string payload;
  uint32_t attempt;
};

// Publishes `count` messages "0".."count-1" in one batch, before anyone subscribes.
void PublishNumbered(client::Client& client, const std::string& topic, int count) {
  std::vector<Message> batch;
  for (int i = 0; i < count; ++i) batch.push_back({.payload = std::to_string(i)});
  CONFORMANCE_ASSERT_OK(client.PublishBatch(topic, std::move(batch)).get());
}

// Each of "0".."count-1" handled exactly once, on its first attempt.
void ExpectEachOnceOnFirstAttempt(const std::vector<Seen>& seen, int count) {
  std::map<std::string, int> times;
  for (const Seen& s : seen) {
    ++times[s.payload];
    EXPECT_EQ(s.attempt, 1u) << "message " << s.payload << " was delivered again";
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(times[std::to_string(i)], 1) << "message " << i;
  }
}

// Where the broker is reachable: no redelivery, no expired lease, no dead letter, nothing left.
void ExpectCleanGroup(Broker* broker, const std::string& topic, const std::string& group) {
  if (broker == nullptr) return;  // the handler-side checks above stand alone
  auto info = Must(broker->DescribeGroup(topic, group));
  EXPECT_EQ(info.counters.redelivered, 0u);
  EXPECT_EQ(info.counters.lease_expired, 0u);
  EXPECT_EQ(info.counters.dead_lettered, 0u);
  EXPECT_EQ(info.dlq_depth, 0u);
  EXPECT_EQ(info.total.unsettled, 0u) << "group lag at the end";
}

// Publishes `messages`, then one consumer of group "payments" with default options except
// `ack_timeout` handles them, each taking `work`: every message is handled once, on its first
// attempt, no lease is lost and the group ends clean. Returns the consumer's final stats.
client::ConsumerStats HandleEachOnceSlowly(client::Client& client, Broker* admin,
                                           SimulatedWork& simulated, const std::string& topic,
                                           int messages, milliseconds ack_timeout,
                                           milliseconds work) {
  PublishNumbered(client, topic, messages);
  Recorder<Seen> seen;
  ConsumerOptions options;
  options.group.ack_timeout = ack_timeout;
  auto consumer = Must(client.Subscribe(
      topic, "payments",
      [&](const ReceivedMessage& m) {
        simulated.For(work);  // the charge
        seen.Add({m.record.payload, m.attempt});
      },
      options));
  EXPECT_TRUE(StatsReach(
      *consumer, [&](const auto& s) { return s.acked == static_cast<uint64_t>(messages); },
      std::chrono::seconds(60)));
  ExpectEachOnceOnFirstAttempt(seen.values(), messages);
  const client::ConsumerStats stats = consumer->stats();
  EXPECT_EQ(stats.nacked, 0u);
  EXPECT_EQ(stats.leases_lost, 0u);
  ExpectCleanGroup(admin, topic, "payments");
  EXPECT_TRUE(consumer->Close().ok());
  return stats;
}

// The seed's payment scenario, scaled down: default options except a short ack_timeout, a
// handler taking a sixth of it, 40 messages waiting before the consumer starts.
TEST_P(LeaseConformance, SlowHandlerHandlesEachMessageOnceWithDefaultOptions) {
  constexpr auto kAckTimeout = milliseconds(600);
  HandleEachOnceSlowly(client(), admin(), work(), Topic("orders"), 40, kAckTimeout,
                       kAckTimeout / 6);
}

TEST_P(LeaseConformance, TwoMembersWithConcurrencyFourHandleEachMessageOnce) {
  const std::string topic = Topic("orders");
  constexpr int kMessages = 40;
  constexpr auto kAckTimeout = milliseconds(600);
  PublishNumbered(client(), topic, kMessages);
  Recorder<Seen> seen;
  std::atomic<uint64_t> handled_by_a{0}, handled_by_b{0};
  auto handler_counting = [&](std::atomic<uint64_t>& handled) {
    return [&](const ReceivedMessage& m) {
      work().For(kAckTimeout / 6);
      ++handled;
      seen.Add({m.record.payload, m.attempt});
    };
  };
  ConsumerOptions options;
  options.group.ack_timeout = kAckTimeout;
  options.concurrency = 4;
  options.member = "a";
  auto a = Must(client().Subscribe(topic, "payments", handler_counting(handled_by_a), options));
  options.member = "b";
  auto other_client = NewClient();
  auto b =
      Must(other_client->Subscribe(topic, "payments", handler_counting(handled_by_b), options));
  ASSERT_TRUE(seen.WaitForCount(kMessages, std::chrono::seconds(60)));
  ASSERT_TRUE(StatsReach(*a, [&](const auto& s) { return s.acked == handled_by_a.load(); }));
  ASSERT_TRUE(StatsReach(*b, [&](const auto& s) { return s.acked == handled_by_b.load(); }));
  ExpectEachOnceOnFirstAttempt(seen.values(), kMessages);
  EXPECT_EQ(a->stats().leases_lost + b->stats().leases_lost, 0u);
  ExpectCleanGroup(admin(), topic, "payments");
  CONFORMANCE_ASSERT_OK(a->Close());
  CONFORMANCE_ASSERT_OK(b->Close());
}

// A handler three times slower than the lease: its own lease and that of the message queued
// behind it are both kept alive.
TEST_P(LeaseConformance, HandlerLongerThanTheLeaseIsHandledOnce) {
  constexpr auto kAckTimeout = milliseconds(500);
  const client::ConsumerStats stats =
      HandleEachOnceSlowly(client(), admin(), work(), Topic("orders"), 2, kAckTimeout,
                           kAckTimeout * 3);
  EXPECT_GE(stats.lease_extensions, 4u) << "each lease outlived several ack timeouts";
}

// Close() with messages queued behind a running handler: they reach another member as if never
// leased (attempt 1) and, though the group allows one delivery only, are not dead-lettered.
TEST_P(LeaseConformance, CloseReleasesQueuedMessagesWithoutCountingAnAttempt) {
  const std::string topic = Topic("orders");
  constexpr int kMessages = 4;
  PublishNumbered(client(), topic, kMessages);
  auto gate = std::make_shared<Gate>();
  Recorder<std::string> first_started;
  ConsumerOptions options;
  // One delivery each (JetStream counts the release as one more: there, two).
  options.group = FastRetry(/*max_deliveries=*/AttemptAfterRelease(1));
  options.member = "first";
  auto first = Must(client().Subscribe(
      topic, "payments",
      [&, gate](const ReceivedMessage& m) {
        first_started.Add(m.record.payload);
        gate->Wait();
      },
      options));
  ASSERT_TRUE(first_started.WaitForCount(1));
  // The default prefetch holds one more behind the running handler, no more.
  ASSERT_TRUE(StatsReach(*first, [](const auto& s) { return s.delivered == 2; }));
  EXPECT_EQ(first->stats().delivered, 2u);
  auto closing = std::async(std::launch::async, [&] { return first->Close(kWait); });
  ASSERT_TRUE(StatsReach(*first, [](const auto& s) { return s.released == 1; }));
  gate->Open();
  CONFORMANCE_ASSERT_OK(closing.get());

  Recorder<Seen> second_seen;
  options.member = "second";
  auto second = Must(client().Subscribe(
      topic, "payments",
      [&](const ReceivedMessage& m) {
        second_seen.Add({m.record.payload, m.attempt});
      },
      options));
  ASSERT_TRUE(second_seen.WaitForCount(kMessages - 1));
  // The released one is on its first attempt like those never leased (JetStream: its second).
  size_t on_second_attempt = 0;
  for (const Seen& s : second_seen.values()) {
    EXPECT_NE(s.payload, first_started.values()[0]) << "the acked message came back";
    EXPECT_LE(s.attempt, 2u) << s.payload;
    if (s.attempt == 2) ++on_second_attempt;
  }
  EXPECT_EQ(on_second_attempt, AttemptAfterRelease(1) - 1);
  CONFORMANCE_ASSERT_OK(second->Close());
  if (Broker* broker = admin()) {
    auto info = Must(broker->DescribeGroup(topic, "payments"));
    EXPECT_EQ(info.counters.dead_lettered, 0u);
    EXPECT_EQ(info.total.unsettled, 0u);
  }
}

// A handler that never returns, with no handler_timeout: its lease is extended only for
// max_lease_extension, then left to expire, and the message goes to another member.
TEST_P(LeaseConformance, HungHandlerIsReleasedAfterMaxLeaseExtension) {
  const std::string topic = Topic("orders");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "hangs"}).get());
  constexpr auto kAckTimeout = milliseconds(300);
  auto hang = std::make_shared<Gate>();
  Recorder<uint32_t> hung_attempts;
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/5);
  options.group.ack_timeout = kAckTimeout;
  options.max_lease_extension = kAckTimeout * 2;
  options.member = "hung";
  auto hung = Must(client().Subscribe(
      topic, "payments",
      [=, &hung_attempts](const ReceivedMessage& m) {
        hung_attempts.Add(m.attempt);
        hang->Wait();
      },
      options));
  ASSERT_TRUE(hung_attempts.WaitForCount(1));
  Recorder<uint32_t> healthy_attempts;
  options.member = "healthy";
  auto healthy = Must(client().Subscribe(
      topic, "payments", [&](const ReceivedMessage& m) { healthy_attempts.Add(m.attempt); },
      options));
  ASSERT_TRUE(healthy_attempts.WaitForCount(1));
  EXPECT_EQ(healthy_attempts.values()[0], 2u) << "the hung delivery counted as an attempt";
  EXPECT_EQ(hung->stats().lease_limit_reached, 1u);
  EXPECT_GE(hung->stats().lease_extensions, 1u) << "kept alive until the limit";
  hang->Open();
  CONFORMANCE_ASSERT_OK(hung->Close());
  EXPECT_EQ(hung->stats().acked, 0u) << "the late ack of a lease that expired does not count";
  ASSERT_TRUE(StatsReach(*healthy, [](const auto& s) { return s.acked == 1; }));
  CONFORMANCE_ASSERT_OK(healthy->Close());
}

}  // namespace
}  // namespace broker::conformance
