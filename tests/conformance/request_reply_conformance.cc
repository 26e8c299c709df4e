// Request-reply: replies over the requester's one inbox, no_responders, timeouts, responder errors,
// first reply wins, expired requests dropped before the handler, closing with requests pending.
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker/client/headers.h"
#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::ReceivedMessage;
using client::Reply;
using std::chrono::steady_clock;

Reply Echo(const ReceivedMessage& request) { return Reply{"echo:" + request.record.payload, {}}; }

TEST_P(RequestReplyConformance, RequestGetsTheResponderReply) {
  const std::string topic = Topic("pricing");
  Recorder<ReceivedMessage> requests;
  auto responder = Must(client().Serve(topic, "pricing-service", [&](const ReceivedMessage& m) {
    requests.Add(m);
    return Reply{"price of " + m.record.payload + ": 12.50", {{"currency", "EUR"}}};
  }));
  const auto sent_at = std::chrono::system_clock::now();
  auto reply =
      client().Request(topic, "sku-1", std::chrono::seconds(5), {{"tenant", "acme"}}).get();
  CONFORMANCE_ASSERT_OK(reply);
  EXPECT_EQ(reply->payload, "price of sku-1: 12.50");
  EXPECT_EQ(HeaderOr(reply->headers, "currency"), "EUR");

  ASSERT_EQ(requests.size(), 1u);
  const ReceivedMessage request = requests.values()[0];
  EXPECT_EQ(request.Header("tenant"), "acme");
  EXPECT_NE(request.Header(client::kReplyToHeader).value_or(""), "");
  EXPECT_NE(request.Header(client::kCorrelationIdHeader).value_or(""), "");
  // The deadline is absolute: microseconds since the epoch, about now + the timeout.
  const auto deadline_us = std::stoll(std::string(request.Header(client::kDeadlineHeader).value()));
  const auto sent_us =
      std::chrono::duration_cast<std::chrono::microseconds>(sent_at.time_since_epoch()).count();
  EXPECT_GE(deadline_us, sent_us + 4'000'000);
  EXPECT_LE(deadline_us, sent_us + 6'000'000);
  EXPECT_EQ(client().stats().requests, 1u);
}

TEST_P(RequestReplyConformance, ConcurrentRequestsShareOneInbox) {
  const std::string topic = Topic("echo");
  ConsumerOptions options;
  options.concurrency = 4;
  Recorder<std::string> reply_to;
  auto responder = Must(client().Serve(
      topic, "echo-service",
      [&](const ReceivedMessage& m) {
        reply_to.Add(std::string(m.Header(client::kReplyToHeader).value_or("")));
        return Echo(m);
      },
      options));
  std::vector<std::future<Result<Reply>>> replies;
  for (int i = 0; i < 20; ++i) {
    replies.push_back(client().Request(topic, std::to_string(i), std::chrono::seconds(5)));
  }
  for (int i = 0; i < 20; ++i) {
    auto reply = replies[i].get();
    CONFORMANCE_ASSERT_OK(reply);
    EXPECT_EQ(reply->payload, "echo:" + std::to_string(i));
  }
  for (const std::string& inbox : reply_to.values()) EXPECT_EQ(inbox, reply_to.values()[0]);
}

TEST_P(RequestReplyConformance, NoRespondersFailsFast) {
  const std::string topic = Topic("nobody-home");
  const auto start = steady_clock::now();
  auto reply = client().Request(topic, "hello?", std::chrono::seconds(10)).get();
  EXPECT_EQ(reply.status().code(), StatusCode::kNoResponders) << reply.status().ToString();
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(1))
      << "must not wait out the timeout";

  // Also once the last responder has gone.
  auto responder = Must(client().Serve(topic, "svc", Echo));
  CONFORMANCE_ASSERT_OK(client().Request(topic, "now?", std::chrono::seconds(5)).get());
  CONFORMANCE_ASSERT_OK(responder->Close());
  auto after = client().Request(topic, "still?", std::chrono::seconds(10)).get();
  EXPECT_EQ(after.status().code(), StatusCode::kNoResponders) << after.status().ToString();
}

TEST_P(RequestReplyConformance, TimeoutGivesDeadlineExceededAndTheLateReplyIsCounted) {
  const std::string topic = Topic("slow");
  constexpr auto kTimeout = std::chrono::milliseconds(100);
  auto release = std::make_shared<Gate>();
  auto responder = Must(client().Serve(topic, "svc", [release](const ReceivedMessage& m) {
    release->Wait();
    return Echo(m);
  }));
  const auto start = steady_clock::now();
  auto reply = client().Request(topic, "x", kTimeout).get();
  const auto took = steady_clock::now() - start;
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded) << reply.status().ToString();
  EXPECT_GE(took, kTimeout);
  EXPECT_LT(took, std::chrono::seconds(2));

  release->Open();  // the responder answers after the requester gave up
  EXPECT_TRUE(StatsReach(client(), [&](const auto& s) { return s.late_replies == 1; }));
}

TEST_P(RequestReplyConformance, ResponderExceptionReachesTheRequester) {
  const std::string topic = Topic("payments");
  auto responder =
      Must(client().Serve(topic, "payment-service", [](const ReceivedMessage&) -> Reply {
        throw std::runtime_error("card declined: insufficient funds");
      }));
  auto reply = client().Request(topic, "charge 10", std::chrono::seconds(5)).get();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kAborted);
  EXPECT_NE(reply.status().message().find("card declined: insufficient funds"), std::string::npos)
      << reply.status().ToString();
}

TEST_P(RequestReplyConformance, FirstReplyWinsAndALaterOneIsDroppedAndCounted) {
  const std::string topic = Topic("quotes");
  auto second_may_reply = std::make_shared<Gate>();
  auto fast = Must(client().Serve(topic, "fast-quotes", [](const ReceivedMessage&) {
    return Reply{"fast", {}};
  }));
  auto slow = Must(client().Serve(topic, "slow-quotes", [second_may_reply](const ReceivedMessage&) {
    second_may_reply->Wait();
    return Reply{"slow", {}};
  }));
  auto reply = client().Request(topic, "quote?", std::chrono::seconds(5)).get();
  CONFORMANCE_ASSERT_OK(reply);
  EXPECT_EQ(reply->payload, "fast");
  EXPECT_EQ(client().stats().late_replies, 0u);
  second_may_reply->Open();
  EXPECT_TRUE(StatsReach(client(), [&](const auto& s) { return s.late_replies == 1; }));
  EXPECT_TRUE(StatsReach(*slow, [&](const auto& s) { return s.acked == 1; }));
}

TEST_P(RequestReplyConformance, ExpiredRequestsAreDroppedBeforeTheHandler) {
  const std::string topic = Topic("inventory");
  auto release = std::make_shared<Gate>();
  Recorder<std::string> handled;
  auto responder =
      Must(client().Serve(topic, "inventory-service", [&, release](const ReceivedMessage& m) {
        handled.Add(m.record.payload);
        release->Wait();
        return Echo(m);
      }));
  // The first request keeps the only handler thread busy ...
  auto patient = client().Request(topic, "patient", std::chrono::seconds(10));
  ASSERT_TRUE(handled.WaitForCount(1));
  // ... while the second one waits in line past its deadline.
  auto hasty = client().Request(topic, "hasty", std::chrono::milliseconds(50)).get();
  EXPECT_EQ(hasty.status().code(), StatusCode::kDeadlineExceeded) << hasty.status().ToString();
  release->Open();
  CONFORMANCE_ASSERT_OK(patient.get());
  // A request made after it is answered: by then the expired one has been dropped, by the broker
  // before delivering it (interest request topics) or by the responder if it already held it.
  CONFORMANCE_ASSERT_OK(client().Request(topic, "after", std::chrono::seconds(10)).get());
  EXPECT_EQ(handled.values(), (std::vector<std::string>{"patient", "after"}));
  EXPECT_EQ(client().stats().late_replies, 0u) << "nobody answered the expired request";
  if (Broker* broker = admin()) {
    // Where the broker is visible: dropped exactly once, by one of the two, and settled (not left
    // to be redelivered).
    uint64_t by_broker = 0;
    EXPECT_TRUE(Eventually([&] {
      auto group = broker->DescribeGroup(topic, "inventory-service");
      if (!group.ok()) return false;
      by_broker = group->counters.expired_requests;
      return by_broker + responder->stats().dropped_expired_requests == 1 &&
             group->total.unsettled == 0;
    })) << "dropped by the broker " << by_broker << ", by the responder "
        << responder->stats().dropped_expired_requests;
  }
}

TEST_P(RequestReplyConformance, ClosingTheClientCancelsPendingRequests) {
  const std::string topic = Topic("slow");
  auto release = std::make_shared<Gate>();
  auto received = std::make_shared<Gate>();
  auto responder_client = NewClient();
  auto responder =
      Must(responder_client->Serve(topic, "svc", [release, received](const ReceivedMessage& m) {
        received->Open();
        release->Wait();
        return Echo(m);
      }));
  auto requester = NewClient();
  auto pending = requester->Request(topic, "x", std::chrono::seconds(10));
  // Closing may stop a request still on its way (over gRPC it travels on the inbox's stream), so
  // close only once the responder holds it: its reply is then the late one counted below.
  ASSERT_TRUE(received->Wait());
  requester->Close();
  auto reply = pending.get();
  EXPECT_EQ(reply.status().code(), StatusCode::kCancelled) << reply.status().ToString();

  // The responder's answer then has nowhere to go; it counts that.
  release->Open();
  EXPECT_TRUE(StatsReach(*responder, [&](const auto& s) { return s.undeliverable_replies == 1; }));
}

}  // namespace
}  // namespace broker::conformance
