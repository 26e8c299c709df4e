// Misuse gets clear errors with canonical codes, and changes nothing.
#include <string>
#include <vector>

#include "conformance_test.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::MessageContext;
using client::ReceivedMessage;
using client::Reply;

void Ignore(const ReceivedMessage&) {}
void IgnoreManual(MessageContext&) {}
Reply Nothing(const ReceivedMessage&) { return {}; }

TEST_P(MisuseConformance, EverythingFailsOnAClosedClient) {
  const std::string topic = Topic("orders");
  auto closed = NewClient();
  closed->Close();
  closed->Close();  // idempotent
  EXPECT_EQ(closed->Publish(topic, {.payload = "x"}).get().status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed->PublishBatch(topic, {{.payload = "x"}}).get().status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed->Subscribe(topic, "g", Ignore).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed->SubscribeManual(topic, "g", IgnoreManual).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed->Serve(topic, "g", Nothing).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed->Request(topic, "x", std::chrono::seconds(1)).get().status().code(),
            StatusCode::kFailedPrecondition);

  // Nothing reached the broker: the topic's first message lands at offset 0.
  auto published = client().Publish(topic, {.payload = "first"}).get();
  CONFORMANCE_ASSERT_OK(published);
  EXPECT_EQ(published->offset, Offset(0));
}

TEST_P(MisuseConformance, ClosedClientErrorSaysWhy) {
  auto closed = NewClient();
  closed->Close();
  const Status s = closed->Publish(Topic("orders"), {.payload = "x"}).get().status();
  EXPECT_NE(s.message().find("closed"), std::string::npos) << s.ToString();
}

TEST_P(MisuseConformance, SubscribingTwiceWithTheSameMemberNameIsRefused) {
  const std::string topic = Topic("orders");
  ConsumerOptions options;
  options.member = "worker-1";
  auto first = Must(client().Subscribe(topic, "email", Ignore, options));
  EXPECT_EQ(first->member(), "worker-1");
  auto twice = client().Subscribe(topic, "email", Ignore, options);
  EXPECT_EQ(twice.status().code(), StatusCode::kAlreadyExists) << twice.status().ToString();
  // Another client is refused the same way; the name is free again once the first one closes.
  auto other = NewClient();
  EXPECT_EQ(other->SubscribeManual(topic, "email", IgnoreManual, options).status().code(),
            StatusCode::kAlreadyExists);
  CONFORMANCE_ASSERT_OK(first->Close());
  auto again = other->Subscribe(topic, "email", Ignore, options);
  CONFORMANCE_ASSERT_OK(again);
}

TEST_P(MisuseConformance, GeneratedMemberNamesAreDistinct) {
  const std::string topic = Topic("orders");
  auto a = Must(client().Subscribe(topic, "email", Ignore));
  auto b = Must(client().Subscribe(topic, "email", Ignore));
  EXPECT_FALSE(a->member().empty());
  EXPECT_NE(a->member(), b->member());
}

TEST_P(MisuseConformance, EmptyTopicIsAnInvalidArgument) {
  EXPECT_EQ(client().Publish("", {.payload = "x"}).get().status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client().PublishBatch("", {{.payload = "x"}}).get().status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client().Subscribe("", "g", Ignore).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client().SubscribeManual("", "g", IgnoreManual).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client().Serve("", "g", Nothing).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client().Request("", "x", std::chrono::seconds(1)).get().status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(MisuseConformance, BadArgumentsAreInvalidArguments) {
  const std::string topic = Topic("orders");
  EXPECT_EQ(client().Subscribe(topic, "", Ignore).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client().Subscribe(topic, "g", nullptr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client().SubscribeManual(topic, "g", nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client().Serve(topic, "g", nullptr).status().code(), StatusCode::kInvalidArgument);
  ConsumerOptions no_threads;
  no_threads.concurrency = 0;
  EXPECT_EQ(client().Subscribe(topic, "g", Ignore, no_threads).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client().Publish("bad topic name", {.payload = "x"}).get().status().code(),
            StatusCode::kInvalidArgument);
  auto responder = Must(client().Serve(topic, "svc", Nothing));
  EXPECT_EQ(client().Request(topic, "x", std::chrono::milliseconds(0)).get().status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace broker::conformance
