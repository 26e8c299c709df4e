// Consumer flow control: `concurrency` handler threads really run at once; `max_in_flight` bounds
// what one consumer holds, leaving the rest to other members of its group.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::ReceivedMessage;

TEST_P(FlowControlConformance, ConcurrencyRunsHandlersInParallel) {
  const std::string topic = Topic("orders");
  constexpr int kConcurrency = 4;
  for (int i = 0; i < kConcurrency; ++i) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = std::to_string(i)}).get());
  }
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  Recorder<int> arrived;
  Recorder<bool> all_met;
  ConsumerOptions options;
  options.concurrency = kConcurrency;
  auto consumer = Must(client().Subscribe(
      topic, "workers",
      [&](const ReceivedMessage&) {
        const int now = ++running;
        int seen = most_running.load();
        while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
        }
        arrived.Add(1);
        // A barrier: only passes if every handler is running at the same time.
        all_met.Add(arrived.WaitForCount(kConcurrency));
        --running;
      },
      options));
  ASSERT_TRUE(all_met.WaitForCount(kConcurrency));
  EXPECT_EQ(most_running.load(), kConcurrency);
  for (bool met : all_met.values()) EXPECT_TRUE(met);
}

TEST_P(FlowControlConformance, MaxInFlightBoundsWhatOneConsumerHolds) {
  const std::string topic = Topic("orders");
  constexpr uint32_t kMaxInFlight = 3;
  constexpr int kMessages = 10;
  for (int i = 0; i < kMessages; ++i) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = std::to_string(i)}).get());
  }
  auto release = std::make_shared<Gate>();
  Recorder<std::string> handled_by_slow, handled_by_fast;
  ConsumerOptions slow_options;
  slow_options.member = "slow";
  slow_options.max_in_flight = kMaxInFlight;
  slow_options.prefetch = kMaxInFlight;  // only max_in_flight bounds what it leases
  auto slow = Must(client().Subscribe(
      topic, "workers",
      [&, release](const ReceivedMessage& m) {
        release->Wait();
        handled_by_slow.Add(m.record.payload);
      },
      slow_options));
  ASSERT_TRUE(StatsReach(*slow, [&](const auto& s) { return s.delivered >= kMaxInFlight; }));

  // The slow member is stuck holding its three; another member gets everything else.
  ConsumerOptions fast_options;
  fast_options.member = "fast";
  auto fast = Must(client().Subscribe(
      topic, "workers", [&](const ReceivedMessage& m) { handled_by_fast.Add(m.record.payload); },
      fast_options));
  ASSERT_TRUE(handled_by_fast.WaitForCount(kMessages - kMaxInFlight));
  EXPECT_EQ(slow->stats().delivered, kMaxInFlight);
  if (Broker* broker = admin()) {
    auto group = Must(broker->DescribeGroup(topic, "workers"));
    for (const auto& member : group.members) {
      if (member.name == "slow") {
        EXPECT_EQ(member.leased, kMaxInFlight);
      }
    }
  }
  release->Open();
  ASSERT_TRUE(handled_by_slow.WaitForCount(kMaxInFlight));
  CONFORMANCE_ASSERT_OK(slow->Close());
  CONFORMANCE_ASSERT_OK(fast->Close());
  EXPECT_EQ(handled_by_slow.size() + handled_by_fast.size(), static_cast<size_t>(kMessages));
}

}  // namespace
}  // namespace broker::conformance
