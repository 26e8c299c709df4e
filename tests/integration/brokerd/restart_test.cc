// What a client sees when brokerd goes away and comes back: subscriptions rejoin by themselves,
// publishes fail with unavailable (and succeed once it is back), pending requests fail at once.
#include <future>
#include <mutex>
#include <set>

#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class Seen {
 public:
  void Add(const std::string& s) {
    std::lock_guard lock(mu_);
    seen_.insert(s);
  }
  bool Has(const std::string& s) {
    std::lock_guard lock(mu_);
    return seen_.contains(s);
  }

 private:
  std::mutex mu_;
  std::set<std::string> seen_;
};

TEST_F(BrokerdTest, SubscriptionsResumeByThemselvesAfterBrokerdRestarts) {
  StartBrokerd();
  const std::string address = brokerd_->address();
  auto client = Connect();
  Seen seen;
  auto consumer = client->Subscribe(
      "events", "audit", [&](const client::ReceivedMessage& m) { seen.Add(m.record.payload); });
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(client->Publish("events", {.payload = "before"}).get().ok());
  ASSERT_TRUE(StatsReach(**consumer, [](const auto& s) { return s.acked == 1; }));
  ASSERT_TRUE(seen.Has("before"));

  brokerd_->Kill();
  auto down = client->Publish("events", {.payload = "while down"}).get();
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();

  // A client that waits for brokerd: while it is down, a call waits out its deadline.
  auto patient_options = Transport();
  patient_options.wait_for_ready = true;
  patient_options.call_timeout = 300ms;
  auto patient = Connect(patient_options);
  auto waited = patient->Publish("events", {.payload = "while down"}).get();
  EXPECT_EQ(waited.status().code(), StatusCode::kDeadlineExceeded) << waited.status().ToString();

  StartBrokerd({}, address);
  // The channel reconnects by itself: a call that waits for it goes through once it has.
  patient_options.call_timeout = 20s;
  patient = Connect(patient_options);
  auto after = patient->Publish("events", {.payload = "after", .idempotency_key = "after-1"}).get();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  // "before" may come again too: its ack was taken but, killed with -9, brokerd may not have
  // written it yet (at-least-once). Its second ack and that of "after" may be answered in one
  // frame, so the count can go from 1 to 3 at once: wait for "after" to be handled and acked.
  EXPECT_TRUE(StatsReach(**consumer, [&](const auto& s) {
    return s.acked >= 2 && seen.Has("after");
  })) << "the same consumer, without any action, receives what is published after the restart";
  (void)(*consumer)->Close(5s);
}

TEST_F(BrokerdTest, PendingRequestsFailFastWhenBrokerdGoesAway) {
  StartBrokerd();
  auto responder_client = Connect();
  std::promise<void> never;
  auto blocked = never.get_future().share();
  auto responder =
      responder_client->Serve("quotes", "pricing", [blocked](const client::ReceivedMessage&) {
        blocked.wait_for(20s);
        return client::Reply{"late", {}};
      });
  ASSERT_TRUE(responder.ok());
  auto requester = Connect();
  auto pending = requester->Request("quotes", "price?", 60s);
  brokerd_->Kill();
  ASSERT_EQ(pending.wait_for(15s), std::future_status::ready)
      << "a request must not wait out its 60 s timeout when brokerd is gone";
  EXPECT_EQ(pending.get().status().code(), StatusCode::kUnavailable);
  never.set_value();
}

TEST_F(BrokerdTest, PublishingToAStoppedBrokerdSaysWhereItLooked) {
  StartBrokerd();
  const std::string address = brokerd_->address();
  auto client = Connect();
  ASSERT_EQ(brokerd_->Stop(), 0);
  auto result = client->Publish("orders", {.payload = "x"}).get();
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("cannot reach brokerd at " + address), std::string::npos)
      << result.status().message();
}

}  // namespace
}  // namespace broker::integration
