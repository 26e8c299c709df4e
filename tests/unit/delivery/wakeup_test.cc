// Waiting members are woken without polling: by new publishes, freed credit, due redeliveries,
// leases coming back. And members on several threads share the work without duplicates.
//
// Threads wait on futures with a generous deadline; nothing sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

constexpr auto kDeadline = seconds(20);  // far beyond any real wait; a hang fails, not blocks
constexpr auto kLongPoll = seconds(60);  // a poll that only returns early if woken

class WakeupTest : public DeliveryTest {
 protected:
  WakeupTest() { CreateTopic(kTopic, 2); }

  // Starts a Poll(max, kLongPoll) on another thread, once it is about to wait.
  std::future<Result<std::vector<Delivery>>> PollAsync(Subscription& sub, size_t max = 10) {
    auto started = std::make_shared<std::latch>(1);
    auto future = std::async(std::launch::async, [&sub, max, started] {
      started->count_down();
      return sub.Poll(max, kLongPoll);
    });
    started->wait();
    return future;
  }

  static std::vector<Delivery> Await(std::future<Result<std::vector<Delivery>>>& f) {
    if (f.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "the waiting Poll was not woken";
      return {};
    }
    return Must(f.get());
  }
};

TEST_F(WakeupTest, PublishWakesAWaitingPoll) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  auto polled = PollAsync(*sub);
  const auto start = std::chrono::steady_clock::now();
  Publish(kTopic, "hello");
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "hello");
  EXPECT_LT(std::chrono::steady_clock::now() - start, kDeadline);
}

TEST_F(WakeupTest, AckFreeingCreditWakesAWaitingPoll) {
  auto sub = Subscribe(kTopic, kGroup, "m1", /*max_in_flight=*/1);
  const PublishResult first = Publish(kTopic, "1", "k");
  Publish(kTopic, "2", "k");
  PollOne(*sub);
  auto polled = PollAsync(*sub);
  DELIVERY_ASSERT_OK(sub->Ack(first.partition, first.offset));
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "2");
}

TEST_F(WakeupTest, AckReleasingAKeyWakesAnotherMember) {
  auto a = Subscribe(kTopic, kGroup, "a", 256, ExactConfig(Ordering::kPerKey));
  auto b = Subscribe(kTopic, kGroup, "b");
  const PublishResult first = Publish(kTopic, "1", "k");
  Publish(kTopic, "2", "k");
  PollOne(*a);
  auto polled = PollAsync(*b);
  DELIVERY_ASSERT_OK(a->Ack(first.partition, first.offset));
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "2");
}

TEST_F(WakeupTest, DueRedeliveryWakesAWaitingPoll) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, seconds(5), ""));
  auto polled = PollAsync(*sub);
  Advance(seconds(5));  // RunDeliveryTimers makes it available and wakes the poller
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 2u);
}

TEST_F(WakeupTest, LeavingMemberWakesAnotherWithItsLeases) {
  auto a = Subscribe(kTopic, kGroup, "a");
  auto b = Subscribe(kTopic, kGroup, "b");
  Publish(kTopic, "x");
  PollOne(*a);
  auto polled = PollAsync(*b);
  a.reset();
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 2u);
}

TEST_F(WakeupTest, ReadyCallbackRunsOnPublish) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  sub->SetReadyCallback([&] {
    std::lock_guard lock(mu);
    ++calls;
    cv.notify_all();
  });
  Publish(kTopic, "x");
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, kDeadline, [&] { return calls > 0; }));
}

TEST_F(WakeupTest, PollTimesOutWhenNothingArrives) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const auto start = std::chrono::steady_clock::now();
  std::vector<Delivery> got = Must(sub->Poll(10, milliseconds(50)));
  EXPECT_TRUE(got.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
}

// Members on their own threads poll and ack while another thread publishes: every message is
// delivered exactly once (no lease expires: the clock does not move) and all end acked.
TEST_F(WakeupTest, ConcurrentMembersShareTheWorkExactlyOnce) {
  constexpr int kMessages = 2000;
  constexpr int kMembers = 4;
  std::vector<std::unique_ptr<Subscription>> members;
  for (int i = 0; i < kMembers; ++i) members.push_back(Subscribe(kTopic, kGroup, "m" + std::to_string(i), 16));

  std::mutex mu;
  std::condition_variable progress;
  std::set<std::pair<uint32_t, uint64_t>> seen;  // guarded by mu
  int duplicates = 0;                            // guarded by mu
  int acked = 0;                                 // guarded by mu
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kMembers);
  for (int i = 0; i < kMembers; ++i) {
    threads.emplace_back([&, i] {
      while (!stop.load()) {
        auto got = members[i]->Poll(8, milliseconds(20));
        if (!got.ok()) {
          errors[i] = got.status().ToString();
          return;
        }
        for (const Delivery& d : *got) {
          {
            std::lock_guard lock(mu);
            if (!seen.emplace(d.record.partition.value(), d.record.offset.value()).second) {
              ++duplicates;
            }
          }
          if (Status s = members[i]->Ack(d.record.partition, d.record.offset); !s.ok()) {
            errors[i] = s.ToString();
            return;
          }
          std::lock_guard lock(mu);
          ++acked;
          progress.notify_all();
        }
      }
    });
  }
  std::thread publisher([&] {
    for (int i = 0; i < kMessages; ++i) {
      (void)broker().Publish(kTopic, Message{.key = "k" + std::to_string(i % 50), .payload = "p"});
    }
  });
  publisher.join();
  bool done = false;
  {
    std::unique_lock lock(mu);
    done = progress.wait_for(lock, kDeadline, [&] { return acked >= kMessages; });
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kMembers; ++i) EXPECT_EQ(errors[i], "") << "member " << i;
  EXPECT_TRUE(done) << "not everything was acked before the deadline";
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(Describe().total.unsettled, 0u);
}

}  // namespace
}  // namespace broker::testing
