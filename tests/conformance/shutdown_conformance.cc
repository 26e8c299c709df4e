// Consumer::Close: stops taking messages, releases what is queued (no handler saw it: its attempt
// is not counted), lets running handlers finish within the timeout and nacks what is unfinished,
// so another member of the group gets both at once.
#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::ReceivedMessage;

struct Seen {
  std::string payload;
  uint32_t attempt;
};

TEST_P(ShutdownConformance, CloseWaitsForRunningHandlersAndReleasesQueuedOnes) {
  const std::string topic = Topic("orders");
  for (int i = 0; i < 5; ++i) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = std::to_string(i)}).get());
  }
  auto release = std::make_shared<Gate>();
  Recorder<std::string> started;
  ConsumerOptions options;
  options.max_in_flight = 5;
  options.prefetch = 4;  // four wait behind the running one
  options.concurrency = 1;
  // One delivery each: a message nacked at close would be dead-lettered, a released one is not.
  // (JetStream counts the release as a delivery: there, two.)
  options.group = FastRetry(/*max_deliveries=*/AttemptAfterRelease(1));
  auto first = Must(client().Subscribe(
      topic, "workers",
      [&, release](const ReceivedMessage& m) {
        started.Add(m.record.payload);
        release->Wait();
      },
      options));
  ASSERT_TRUE(started.WaitForCount(1));
  ASSERT_TRUE(StatsReach(*first, [&](const auto& s) { return s.delivered == 5; }));

  auto closing = std::async(std::launch::async, [&] { return first->Close(kWait); });
  // Close releases the four queued messages before it waits for the running handler.
  ASSERT_TRUE(StatsReach(*first, [&](const auto& s) { return s.released == 4; }));
  EXPECT_EQ(first->stats().nacked, 0u);
  EXPECT_EQ(closing.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "Close returned while a handler was still running";
  release->Open();
  CONFORMANCE_ASSERT_OK(closing.get());
  EXPECT_EQ(first->stats().acked, 1u) << "the running handler finished and was acked";
  EXPECT_EQ(started.values(), std::vector<std::string>{"0"});

  Recorder<Seen> second_seen;
  auto second = Must(client().Subscribe(topic, "workers", [&](const ReceivedMessage& m) {
    second_seen.Add({m.record.payload, m.attempt});
  }));
  ASSERT_TRUE(second_seen.WaitForCount(4));
  for (const Seen& s : second_seen.values()) {
    EXPECT_NE(s.payload, "0") << "an acked message came back";
    EXPECT_EQ(s.attempt, AttemptAfterRelease(1)) << "no handler saw it: not an attempt";
  }
}

TEST_P(ShutdownConformance, CloseNacksHandlersStillRunningAtTheTimeout) {
  const std::string topic = Topic("orders");
  for (const char* p : {"quick", "stuck", "queued"}) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = p}).get());
  }
  auto quick_gate = std::make_shared<Gate>();
  auto stuck_gate = std::make_shared<Gate>();
  auto started = std::make_shared<Recorder<std::string>>();
  auto finished = std::make_shared<Recorder<std::string>>();
  ConsumerOptions options;
  options.member = "closing";
  options.concurrency = 2;
  options.max_in_flight = 3;
  // Captures are shared: the stuck handler outlives Close (its thread is left to finish).
  auto first = Must(client().Subscribe(
      topic, "workers",
      [=](const ReceivedMessage& m) {
        started->Add(m.record.payload);
        if (m.record.payload == "quick") quick_gate->Wait();
        if (m.record.payload == "stuck") stuck_gate->Wait();
        finished->Add(m.record.payload);
      },
      options));
  ASSERT_TRUE(started->WaitForCount(2));
  ASSERT_TRUE(StatsReach(*first, [&](const auto& s) { return s.delivered == 3; }));

  auto closing =
      std::async(std::launch::async, [&] { return first->Close(std::chrono::milliseconds(300)); });
  ASSERT_TRUE(StatsReach(*first, [&](const auto& s) { return s.released == 1; }));  // "queued"
  quick_gate->Open();  // finishes inside the close timeout
  const Status closed = closing.get();
  EXPECT_EQ(closed.code(), StatusCode::kDeadlineExceeded) << closed.ToString();
  EXPECT_EQ(first->stats().acked, 1u);
  EXPECT_EQ(first->stats().nacked, 1u);  // "stuck"

  // What the closed consumer did not finish goes to another member at once.
  Recorder<Seen> second_seen;
  auto second = Must(client().Subscribe(topic, "workers", [&](const ReceivedMessage& m) {
    second_seen.Add({m.record.payload, m.attempt});
  }));
  ASSERT_TRUE(second_seen.WaitForCount(2));
  std::vector<std::string> redelivered;
  for (const Seen& s : second_seen.values()) {
    redelivered.push_back(s.payload);
    EXPECT_EQ(s.attempt, s.payload == "queued" ? AttemptAfterRelease(1) : 2u) << s.payload;
  }
  std::sort(redelivered.begin(), redelivered.end());
  EXPECT_EQ(redelivered, (std::vector<std::string>{"queued", "stuck"}));

  // The abandoned handler's late return settles nothing.
  stuck_gate->Open();
  ASSERT_TRUE(finished->WaitForCount(2));
  CONFORMANCE_ASSERT_OK(second->Close());
  EXPECT_EQ(first->stats().acked, 1u);
  if (Broker* broker = admin()) {
    // Its subscription is released when the abandoned thread ends; wait for that before the
    // broker goes away.
    ASSERT_TRUE(Eventually([&] {
      auto group = broker->DescribeGroup(topic, "workers");
      return group.ok() && group->members.empty();
    }));
  }
}

TEST_P(ShutdownConformance, CloseIsIdempotentAndStopsDelivery) {
  const std::string topic = Topic("orders");
  Recorder<std::string> seen;
  auto consumer = Must(client().Subscribe(
      topic, "workers", [&](const ReceivedMessage& m) { seen.Add(m.record.payload); }));
  CONFORMANCE_ASSERT_OK(consumer->Close());
  CONFORMANCE_ASSERT_OK(consumer->Close());
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "after close"}).get());
  // A new member of the group receives it: the closed one left the group.
  Recorder<std::string> other;
  auto next = Must(client().Subscribe(
      topic, "workers", [&](const ReceivedMessage& m) { other.Add(m.record.payload); }));
  ASSERT_TRUE(other.WaitForCount(1));
  EXPECT_EQ(seen.size(), 0u);
}

}  // namespace
}  // namespace broker::conformance
