// Lease keeping on a FakeClock, in process: a hung handler's lease is extended at half its life
// until max_lease_extension, then left to expire, which counts as a failed attempt. (The same
// behaviour on every transport, in real time: tests/conformance/lease_conformance.cc.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "broker/broker.h"
#include "broker/client/client.h"
#include "broker/testing/fake_clock.h"
#include "client_test_util.h"

namespace broker::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kWait = seconds(10);

class LeaseKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.data_dir = dir_.Sub("data");
    options.in_memory = true;
    options.clock = clock_;
    options.background_work = false;  // lease expiry happens when the test runs the timers
    auto opened = Broker::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    broker_ = std::move(opened).value();
    client_ = Client::Embedded(*broker_, {.clock = clock_});
  }

  // The one message's state in `group`.
  MessageGroupState StateOf(const std::string& topic, const std::string& group) {
    auto states = broker_->GetMessageState(topic, PartitionId(0), Offset(0));
    EXPECT_TRUE(states.ok()) << states.status().ToString();
    for (const auto& s : *states) {
      if (s.group == group) return s;
    }
    ADD_FAILURE() << "no state for group " << group;
    return {};
  }

  testing::TempDir dir_;
  std::shared_ptr<broker::testing::FakeClock> clock_ =
      std::make_shared<broker::testing::FakeClock>();
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Client> client_;
};

TEST_F(LeaseKeeperTest, HungHandlerIsExtendedUntilMaxLeaseExtensionThenExpires) {
  const std::string topic = "orders";
  ASSERT_TRUE(client_->Publish(topic, {.payload = "hangs"}).get().ok());
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ConsumerOptions options;
  options.group.ack_timeout = seconds(10);
  options.group.backoff = {
      .initial = milliseconds(1), .multiplier = 1, .max = milliseconds(1), .jitter = 0};
  options.max_lease_extension = seconds(60);
  auto consumer = client_->Subscribe(
      topic, "payments",
      [&, released](const ReceivedMessage&) {
        started.set_value();
        released.wait();
      },
      options);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_EQ(started.get_future().wait_for(kWait), std::future_status::ready);

  // Each time half the lease passes the keeper extends it; the broker's lease never runs out.
  for (uint64_t step = 1; step <= 11; ++step) {
    clock_->Advance(seconds(5));
    ASSERT_TRUE((*consumer)->WaitForStats(
        [&](const ConsumerStats& s) { return s.lease_extensions == step; }, kWait))
        << "extension " << step;
    ASSERT_TRUE(broker_->RunDeliveryTimers().ok());
    EXPECT_EQ(StateOf(topic, "payments").status, MessageStatus::kLeased) << "at step " << step;
  }
  // 60 s after it was leased: no more extensions.
  clock_->Advance(seconds(5));
  ASSERT_TRUE((*consumer)->WaitForStats(
      [](const ConsumerStats& s) { return s.lease_limit_reached == 1; }, kWait));
  EXPECT_EQ((*consumer)->stats().lease_extensions, 11u);
  ASSERT_TRUE(broker_->RunDeliveryTimers().ok());
  EXPECT_EQ(StateOf(topic, "payments").status, MessageStatus::kLeased)
      << "the last extension (at 55 s) still holds";

  // The last extension runs out at 65 s: an expired lease, a failed attempt, as without keeping.
  clock_->Advance(seconds(5));
  ASSERT_TRUE(broker_->RunDeliveryTimers().ok());
  const MessageGroupState after = StateOf(topic, "payments");
  EXPECT_NE(after.status, MessageStatus::kLeased);
  EXPECT_EQ(after.attempts, 1u);
  auto group = broker_->DescribeGroup(topic, "payments");
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(group->counters.lease_expired, 1u);

  release.set_value();
  EXPECT_TRUE((*consumer)->Close(kWait).ok());
  EXPECT_EQ((*consumer)->stats().acked, 0u) << "the late ack of an expired lease does not count";
}

TEST_F(LeaseKeeperTest, NonPositiveMaxLeaseExtensionIsRefused) {
  ConsumerOptions options;
  options.max_lease_extension = milliseconds(0);
  auto consumer = client_->Subscribe(
      "orders", "payments", [](const ReceivedMessage&) {}, options);
  ASSERT_FALSE(consumer.ok());
  EXPECT_EQ(consumer.status().code(), StatusCode::kInvalidArgument);
  auto group = broker_->DescribeGroup("orders", "payments");
  EXPECT_FALSE(group.ok()) << "a refused subscribe changes nothing";
}

}  // namespace
}  // namespace broker::client

namespace broker::client {
namespace {

// Nacks block until the test opens `open`, as a nack over gRPC to a brokerd that does not answer
// waits out the call timeout; `entered` tells the test the first one is waiting.
struct NackGate {
  std::promise<void> entered;
  std::once_flag entered_once;
  std::shared_future<void> open;
  void Wait() {
    std::call_once(entered_once, [&] { entered.set_value(); });
    open.wait();
  }
};

class SlowNackSubscription final : public Subscription {
 public:
  SlowNackSubscription(std::unique_ptr<Subscription> inner, std::shared_ptr<NackGate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}
  const std::string& member() const override { return inner_->member(); }
  Result<std::vector<Delivery>> Poll(size_t max, std::chrono::milliseconds timeout) override {
    return inner_->Poll(max, timeout);
  }
  void SetReadyCallback(std::function<void()> ready) override {
    inner_->SetReadyCallback(std::move(ready));
  }
  Status Ack(PartitionId p, Offset o) override { return inner_->Ack(p, o); }
  Status Nack(PartitionId p, Offset o, std::optional<std::chrono::milliseconds> delay,
              std::string error) override {
    gate_->Wait();
    return inner_->Nack(p, o, delay, std::move(error));
  }
  Result<TimePoint> Extend(PartitionId p, Offset o) override { return inner_->Extend(p, o); }
  Status Reject(PartitionId p, Offset o, std::string reason) override {
    return inner_->Reject(p, o, std::move(reason));
  }

 private:
  std::unique_ptr<Subscription> inner_;
  std::shared_ptr<NackGate> gate_;
};

class SlowNackTransport final : public Transport {
 public:
  SlowNackTransport(Broker& broker, std::shared_ptr<NackGate> gate)
      : inner_(MakeInProcessTransport(broker)), gate_(std::move(gate)) {}
  void Publish(std::string_view topic, std::vector<Message> messages, const PublishOptions& options,
               PublishCallback done) override {
    inner_->Publish(topic, std::move(messages), options, std::move(done));
  }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  const SubscribeOptions& options) override {
    auto sub = inner_->Subscribe(topic, group, options);
    if (!sub.ok()) return sub.status();
    return std::unique_ptr<Subscription>(
        std::make_unique<SlowNackSubscription>(std::move(sub).value(), gate_));
  }
  Result<std::unique_ptr<Inbox>> OpenInbox(Broker::ReplyHandler on_reply,
                                           std::function<void(Status)> on_closed) override {
    return inner_->OpenInbox(std::move(on_reply), std::move(on_closed));
  }
  Status SendReply(std::string_view inbox, Message reply) override {
    return inner_->SendReply(inbox, std::move(reply));
  }
  Result<bool> HasSubscribers(std::string_view topic) override {
    return inner_->HasSubscribers(topic);
  }

 private:
  std::unique_ptr<Transport> inner_;
  std::shared_ptr<NackGate> gate_;
};

// The handler-timeout watchdog nacks outside the consumer's mutex: while its nack waits on the
// broker, the other handler thread still takes and handles messages.
TEST_F(LeaseKeeperTest, AWatchdogNackWaitingOnTheBrokerDoesNotStopOtherHandlers) {
  std::promise<void> answer_nacks;
  auto gate = std::make_shared<NackGate>();
  gate->open = answer_nacks.get_future().share();
  auto nacking = gate->entered.get_future();
  auto client =
      Client::Connect(std::make_unique<SlowNackTransport>(*broker_, gate), {.clock = clock_});
  const std::string topic = "orders";
  ASSERT_TRUE(client->Publish(topic, {.payload = "hangs"}).get().ok());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> quick_handled{0};
  ConsumerOptions options;
  options.concurrency = 2;
  options.handler_timeout = milliseconds(50);
  auto consumer = client->Subscribe(
      topic, "payments",
      [&, released](const ReceivedMessage& m) {
        if (m.record.payload == "hangs") {
          released.wait();
        } else {
          ++quick_handled;
        }
      },
      options);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  // The watchdog is stuck in the nack of "hangs"; the second thread goes on.
  ASSERT_EQ(nacking.wait_for(kWait), std::future_status::ready);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->Publish(topic, {.payload = "quick"}).get().ok());
  }
  const bool others_handled =
      (*consumer)->WaitForStats([](const ConsumerStats& s) { return s.acked == 3; }, kWait);
  answer_nacks.set_value();
  release.set_value();
  EXPECT_TRUE(others_handled) << "handlers waited for the watchdog's nack";
  EXPECT_EQ(quick_handled.load(), 3);
  EXPECT_TRUE(
      (*consumer)->WaitForStats([](const ConsumerStats& s) { return s.timed_out == 1; }, kWait))
      << "timed_out " << (*consumer)->stats().timed_out << " nacked " << (*consumer)->stats().nacked
      << " delivered " << (*consumer)->stats().delivered;
  EXPECT_TRUE((*consumer)->Close(kWait).ok());
}

}  // namespace
}  // namespace broker::client
