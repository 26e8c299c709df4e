// A subscribe that brokerd does not accept within the call timeout leaves nothing behind: the
// stream is ended before the call returns, so no member joins later (a phantom that would refuse
// a retry under the same name and make request-reply think someone serves the topic).
#include <signal.h>

#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

TEST_F(BrokerdTest, SubscribeThatTimesOutLeavesNoPhantomMember) {
  StartBrokerd();
  auto client = Connect();
  ASSERT_TRUE(client->Publish("orders", {.payload = "x"}).get().ok());
  client::GrpcTransportOptions impatient = Transport();
  impatient.call_timeout = 300ms;
  auto timing_out = Connect(impatient);

  // brokerd frozen: the Start frame waits in its socket while the subscribe times out.
  ASSERT_EQ(::kill(brokerd_->pid(), SIGSTOP), 0);
  auto refused = timing_out->Subscribe("orders", "billing", [](const client::ReceivedMessage&) {},
                                       {.member = "worker-1"});
  ASSERT_EQ(::kill(brokerd_->pid(), SIGCONT), 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDeadlineExceeded) << refused.status().ToString();

  // Once brokerd has caught up with the cancelled stream, nobody serves the topic and the name
  // is free again.
  auto transport = client::MakeGrpcTransport(Transport());
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  EXPECT_TRUE(Eventually([&] {
    auto serving = (*transport)->HasSubscribers("orders");
    return serving.ok() && !*serving;
  })) << "a phantom member of the timed-out subscribe answers for the topic";
  std::unique_ptr<client::Consumer> retry;
  EXPECT_TRUE(Eventually([&] {
    auto subscribed = client->Subscribe("orders", "billing", [](const client::ReceivedMessage&) {},
                                        {.member = "worker-1"});
    if (!subscribed.ok()) return false;
    retry = std::move(subscribed).value();
    return true;
  })) << "a retry under the same member name keeps failing";
  ASSERT_NE(retry, nullptr);
  EXPECT_TRUE(StatsReach(*retry, [](const auto& s) { return s.acked == 1; }));
}

}  // namespace
}  // namespace broker::integration
