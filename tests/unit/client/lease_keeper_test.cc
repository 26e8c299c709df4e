// Lease keeping on a FakeClock, in process: a hung handler's lease is extended at half its life
// until max_lease_extension, then left to expire, which counts as a failed attempt. (The same
// behaviour on every transport, in real time: tests/conformance/lease_conformance.cc.)
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
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
  options.group.backoff = {.initial = milliseconds(1), .multiplier = 1, .max = milliseconds(1),
                           .jitter = 0};
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
  auto consumer = client_->Subscribe("orders", "payments", [](const ReceivedMessage&) {}, options);
  ASSERT_FALSE(consumer.ok());
  EXPECT_EQ(consumer.status().code(), StatusCode::kInvalidArgument);
  auto group = broker_->DescribeGroup("orders", "payments");
  EXPECT_FALSE(group.ok()) << "a refused subscribe changes nothing";
}

}  // namespace
}  // namespace broker::client
