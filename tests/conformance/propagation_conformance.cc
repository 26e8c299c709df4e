// traceparent and correlation_id flow from the message a handler is handling to what it publishes
// or requests, without the handler passing them along.
#include <stdexcept>
#include <string>

#include "broker/client/headers.h"
#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ReceivedMessage;
using client::Reply;

constexpr char kTrace[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST_P(PropagationConformance, PublishFromAHandlerInheritsTraceAndCorrelation) {
  const std::string orders = Topic("order.created");
  const std::string payments = Topic("payment.succeeded");
  auto relay = Must(client().Subscribe(orders, "payment-service", [&](const ReceivedMessage& m) {
    auto published = client().Publish(payments, {.payload = "paid " + m.record.payload}).get();
    if (!published.ok()) throw std::runtime_error(published.status().ToString());
  }));
  Recorder<ReceivedMessage> downstream;
  auto reader = Must(
      client().Subscribe(payments, "ledger", [&](const ReceivedMessage& m) { downstream.Add(m); }));
  CONFORMANCE_ASSERT_OK(
      client()
          .Publish(orders, {.payload = "order-42",
                            .headers = {{"traceparent", kTrace}, {"correlation_id", "checkout-7"}}})
          .get());
  ASSERT_TRUE(downstream.WaitForCount(1));
  const ReceivedMessage m = downstream.values()[0];
  EXPECT_EQ(m.record.payload, "paid order-42");
  EXPECT_EQ(m.Header(client::kTraceparentHeader), kTrace);
  EXPECT_EQ(m.Header(client::kCorrelationIdHeader), "checkout-7");
}

TEST_P(PropagationConformance, HeadersTheHandlerSetsWin) {
  const std::string in = Topic("in");
  const std::string out = Topic("out");
  auto relay = Must(client().Subscribe(in, "relay", [&](const ReceivedMessage&) {
    (void)client()
        .Publish(out, {.payload = "x", .headers = {{"correlation_id", "set-by-handler"}}})
        .get();
  }));
  Recorder<ReceivedMessage> downstream;
  auto reader =
      Must(client().Subscribe(out, "reader", [&](const ReceivedMessage& m) { downstream.Add(m); }));
  CONFORMANCE_ASSERT_OK(
      client()
          .Publish(in, {.payload = "x",
                        .headers = {{"traceparent", kTrace}, {"correlation_id", "upstream"}}})
          .get());
  ASSERT_TRUE(downstream.WaitForCount(1));
  const Headers h = downstream.values()[0].record.headers;
  EXPECT_EQ(HeaderOr(h, "correlation_id"), "set-by-handler");
  EXPECT_EQ(HeaderOr(h, "traceparent"), kTrace);
  int correlation_headers = 0;
  for (const auto& header : h) correlation_headers += header.first == "correlation_id";
  EXPECT_EQ(correlation_headers, 1);
}

TEST_P(PropagationConformance, NothingIsAddedOutsideAHandler) {
  const std::string topic = Topic("plain");
  CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = "x"}).get());
  Recorder<ReceivedMessage> seen;
  auto reader =
      Must(client().Subscribe(topic, "reader", [&](const ReceivedMessage& m) { seen.Add(m); }));
  ASSERT_TRUE(seen.WaitForCount(1));
  EXPECT_TRUE(seen.values()[0].record.headers.empty());
}

TEST_P(PropagationConformance, RequestFromAHandlerCarriesTheTraceButItsOwnCorrelationId) {
  const std::string orders = Topic("order.created");
  const std::string fraud = Topic("fraud.check");
  const std::string audit = Topic("audit");
  Recorder<ReceivedMessage> fraud_requests;
  auto responder = Must(client().Serve(fraud, "fraud-service", [&](const ReceivedMessage& m) {
    fraud_requests.Add(m);
    (void)client().Publish(audit, {.payload = "checked"}).get();
    return Reply{"ok", {}};
  }));
  Recorder<ReceivedMessage> audit_log;
  auto audit_reader = Must(
      client().Subscribe(audit, "reader", [&](const ReceivedMessage& m) { audit_log.Add(m); }));
  auto checker = Must(client().Subscribe(orders, "checkout", [&](const ReceivedMessage&) {
    auto verdict = client().Request(fraud, "check", std::chrono::seconds(5)).get();
    if (!verdict.ok()) throw std::runtime_error(verdict.status().ToString());
  }));
  CONFORMANCE_ASSERT_OK(
      client()
          .Publish(orders, {.payload = "order-1",
                            .headers = {{"traceparent", kTrace}, {"correlation_id", "checkout-9"}}})
          .get());
  ASSERT_TRUE(fraud_requests.WaitForCount(1));
  const ReceivedMessage request = fraud_requests.values()[0];
  EXPECT_EQ(request.Header(client::kTraceparentHeader), kTrace);
  // Requests use correlation_id to match their reply, so it is the request's own.
  EXPECT_NE(request.Header(client::kCorrelationIdHeader), "checkout-9");
  EXPECT_NE(request.Header(client::kCorrelationIdHeader).value_or(""), "");
  ASSERT_TRUE(StatsReach(*checker, [&](const auto& s) { return s.acked == 1; }));
  // What the responder publishes while answering inherits the trace as well.
  ASSERT_TRUE(audit_log.WaitForCount(1));
  EXPECT_EQ(audit_log.values()[0].Header(client::kTraceparentHeader), kTrace);
}

}  // namespace
}  // namespace broker::conformance
