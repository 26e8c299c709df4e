// The requesting half of request-reply over a fake transport: what a request carries, how replies
// are matched by correlation id, and every way a request ends. Deadlines come from a FakeClock.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "broker/client/client.h"
#include "broker/client/headers.h"
#include "broker/testing/fake_clock.h"
#include "client_test_util.h"

namespace broker::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeBroker;
using testing::FakeTransport;

std::string HeaderOf(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

class RequesterTest : public ::testing::Test {
 protected:
  RequesterTest()
      : broker_(std::make_shared<FakeBroker>()),
        clock_(std::make_shared<broker::testing::FakeClock>()),
        client_(Client::Connect(std::make_unique<FakeTransport>(broker_), {.clock = clock_})) {}

  // The request published last.
  Message LastRequest() { return broker_->Published().back().second; }

  // Plays the responder: sends `reply` to the requester's inbox.
  void Deliver(Message reply) {
    Broker::ReplyHandler deliver;
    {
      std::lock_guard lock(broker_->mu);
      deliver = broker_->deliver_reply;
    }
    ASSERT_TRUE(deliver) << "no inbox is open";
    deliver(std::move(reply));
  }
  // Plays a brokerd restart: the open inbox is lost (its on_closed runs).
  void LoseInbox() {
    std::function<void(Status)> lose;
    {
      std::lock_guard lock(broker_->mu);
      lose = broker_->lose_inbox;
    }
    ASSERT_TRUE(lose) << "no inbox is open";
    lose(Status::Unavailable("brokerd restarted"));
  }
  void ReplyTo(const Message& request, std::string payload, Headers extra = {}) {
    Message reply{.payload = std::move(payload), .headers = std::move(extra)};
    reply.headers.emplace_back(std::string(kCorrelationIdHeader),
                               HeaderOf(request.headers, kCorrelationIdHeader));
    Deliver(std::move(reply));
  }

  std::shared_ptr<FakeBroker> broker_;
  std::shared_ptr<broker::testing::FakeClock> clock_;
  std::unique_ptr<Client> client_;
};

TEST_F(RequesterTest, RequestCarriesReplyToCorrelationIdAndAbsoluteDeadline) {
  auto reply =
      client_->Request("payments.authorize", "order-1", milliseconds(250), {{"tenant", "acme"}});
  const auto published = broker_->Published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].first, "payments.authorize");
  const Message& request = published[0].second;
  EXPECT_EQ(request.payload, "order-1");
  EXPECT_EQ(HeaderOf(request.headers, "tenant"), "acme");
  EXPECT_EQ(HeaderOf(request.headers, kReplyToHeader), "inbox-1");
  EXPECT_FALSE(HeaderOf(request.headers, kCorrelationIdHeader).empty());
  const auto expected_deadline = clock_->Now() + milliseconds(250);
  EXPECT_EQ(HeaderOf(request.headers, kDeadlineHeader),
            std::to_string(expected_deadline.time_since_epoch().count()));
  ReplyTo(request, "approved");
  EXPECT_EQ(reply.get()->payload, "approved");
}

TEST_F(RequesterTest, RepliesAreMatchedByCorrelationIdOverOneInbox) {
  auto first = client_->Request("svc", "1", seconds(10));
  const Message first_request = LastRequest();
  auto second = client_->Request("svc", "2", seconds(10));
  const Message second_request = LastRequest();
  EXPECT_NE(HeaderOf(first_request.headers, kCorrelationIdHeader),
            HeaderOf(second_request.headers, kCorrelationIdHeader));
  EXPECT_EQ(HeaderOf(second_request.headers, kReplyToHeader),
            HeaderOf(first_request.headers, kReplyToHeader));
  EXPECT_EQ(broker_->inboxes_opened, 1);

  ReplyTo(second_request, "two", {{"x", "y"}});  // out of order
  ReplyTo(first_request, "one");
  auto one = first.get();
  auto two = second.get();
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->payload, "one");
  EXPECT_EQ(two->payload, "two");
  EXPECT_EQ(HeaderOf(two->headers, "x"), "y");
  EXPECT_EQ(client_->stats().requests, 2u);
}

TEST_F(RequesterTest, ASecondReplyAndAReplyToAnUnknownIdAreCountedAsLate) {
  auto reply = client_->Request("svc", "x", seconds(10));
  const Message request = LastRequest();
  ReplyTo(request, "first");
  ReplyTo(request, "second");
  Deliver(Message{.payload = "stray",
                  .headers = {{std::string(kCorrelationIdHeader), "no-such-request"}}});
  Deliver(Message{.payload = "no id at all"});
  EXPECT_EQ(reply.get()->payload, "first");
  EXPECT_EQ(client_->stats().late_replies, 3u);
}

TEST_F(RequesterTest, AnErrorReplyIsAbortedWithTheResponderText) {
  auto reply = client_->Request("svc", "x", seconds(10));
  ReplyTo(LastRequest(), "", {{std::string(kErrorHeader), "card declined"}});
  auto result = reply.get();
  EXPECT_EQ(result.status().code(), StatusCode::kAborted);
  EXPECT_NE(result.status().message().find("card declined"), std::string::npos);
}

TEST_F(RequesterTest, NoSubscribersFailsAtOnceWithoutPublishing) {
  broker_->has_subscribers = false;
  auto reply = client_->Request("svc", "x", seconds(10));
  ASSERT_EQ(reply.wait_for(milliseconds(0)), std::future_status::ready);
  EXPECT_EQ(reply.get().status().code(), StatusCode::kNoResponders);
  EXPECT_TRUE(broker_->Published().empty());
}

TEST_F(RequesterTest, TransportErrorsFailTheRequestWithTheirStatus) {
  broker_->has_subscribers = Status::Unavailable("brokerd is restarting");
  EXPECT_EQ(client_->Request("svc", "x", seconds(10)).get().status().code(),
            StatusCode::kUnavailable);

  broker_->has_subscribers = true;
  broker_->publish_status = Status::ResourceExhausted("disk full");
  EXPECT_EQ(client_->Request("svc", "x", seconds(10)).get().status().code(),
            StatusCode::kResourceExhausted);
}

TEST_F(RequesterTest, TimeoutMustBePositive) {
  EXPECT_EQ(client_->Request("svc", "x", milliseconds(0)).get().status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Request("svc", "x", milliseconds(-5)).get().status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(broker_->Published().empty());
}

TEST_F(RequesterTest, ALostInboxFailsPendingRequestsAndTheNextRequestOpensANewOne) {
  auto pending = client_->Request("svc", "x", seconds(10));
  ASSERT_NO_FATAL_FAILURE(LoseInbox());
  EXPECT_EQ(pending.get().status().code(), StatusCode::kUnavailable);

  auto next = client_->Request("svc", "y", seconds(10));
  EXPECT_EQ(broker_->inboxes_opened, 2);
  EXPECT_EQ(HeaderOf(LastRequest().headers, kReplyToHeader), "inbox-2");
  ReplyTo(LastRequest(), "ok");
  EXPECT_EQ(next.get()->payload, "ok");
}

// A request already failed with its lost inbox may still get its publish's failure afterwards;
// that is not a reply, so it is not counted as a late one (a real late reply still is).
TEST_F(RequesterTest, APublishFailureAfterTheRequestEndedIsNotALateReply) {
  broker_->hold_publishes = true;
  broker_->publish_status = Status::Unavailable("brokerd went away");
  auto pending = client_->Request("svc", "x", seconds(10));
  const Message request = LastRequest();
  ASSERT_NO_FATAL_FAILURE(LoseInbox());
  EXPECT_EQ(pending.get().status().code(), StatusCode::kUnavailable);

  broker_->ReleaseHeld();  // the publish's own failure arrives now
  EXPECT_EQ(client_->stats().late_replies, 0u);
  ReplyTo(request, "too late");
  EXPECT_EQ(client_->stats().late_replies, 1u);
}

TEST_F(RequesterTest, CloseCancelsPendingRequestsAndLaterRepliesAreIgnored) {
  auto pending = client_->Request("svc", "x", seconds(10));
  const Message request = LastRequest();
  client_->Close();
  EXPECT_EQ(pending.get().status().code(), StatusCode::kCancelled);
  ReplyTo(request, "too late");  // must not crash or complete anything
  EXPECT_EQ(client_->Request("svc", "x", seconds(1)).get().status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace broker::client

namespace broker::client {
namespace {

// Opening the inbox is a round trip (over gRPC up to the call timeout): stats and Close do not
// wait for it, and a request whose inbox opens after Close fails instead of going out.
TEST_F(RequesterTest, OpeningTheInboxBlocksNeitherStatsNorClose) {
  std::promise<void> open;
  broker_->open_gate = open.get_future().share();
  auto opening = broker_->opening.get_future();
  auto request =
      std::async(std::launch::async, [&] { return client_->Request("t", "x", seconds(10)).get(); });
  ASSERT_EQ(opening.wait_for(seconds(10)), std::future_status::ready);
  auto stats = std::async(std::launch::async, [&] { return client_->stats(); });
  const bool stats_returned = stats.wait_for(seconds(5)) == std::future_status::ready;
  auto closing = std::async(std::launch::async, [&] { client_->Close(); });
  const bool close_returned = closing.wait_for(seconds(5)) == std::future_status::ready;
  open.set_value();  // before any assertion, so no thread is left waiting
  EXPECT_TRUE(stats_returned) << "stats() waited for the inbox round trip";
  EXPECT_TRUE(close_returned) << "Close() waited for the inbox round trip";
  const auto result = request.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kCancelled) << result.status().ToString();
  EXPECT_TRUE(broker_->Published().empty()) << "a request of a closed client went out";
}

}  // namespace
}  // namespace broker::client
