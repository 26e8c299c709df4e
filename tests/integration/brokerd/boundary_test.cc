// Bad input at the gRPC boundary: oversized frames, bad names, settling what this stream was never
// given, a stream that never starts, and a client that vanishes mid-stream.
#include <grpcpp/grpcpp.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/v1/broker.grpc.pb.h"
#include "brokerd_fixture.h"
#include "raw_grpc.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

TEST_F(BrokerdTest, FrameOverTheSizeLimitIsRefusedAndNothingIsWritten) {
  StartBrokerd({"--max-frame-bytes", "65536"});
  auto client = Connect();
  auto big = client->Publish("orders", {.payload = std::string(100000, 'x')}).get();
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted) << big.status().ToString();
  auto small = client->Publish("orders", {.payload = "fits"}).get();
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->offset.value(), 0u);
}

TEST_F(BrokerdTest, MessageOverTheBrokerLimitIsInvalidArgument) {
  StartBrokerd({"--max-message-bytes", "1024"});
  auto client = Connect();
  auto big = client->Publish("orders", {.payload = std::string(2000, 'x')}).get();
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("limit is 1024"), std::string::npos)
      << big.status().message();
}

TEST_F(BrokerdTest, BadTopicNameIsInvalidArgument) {
  StartBrokerd();
  auto client = Connect();
  auto bad = client->Publish("orders/eu", {.payload = "x"}).get();
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'/'"), std::string::npos) << bad.status().message();
}

TEST_F(BrokerdTest, SettlingWhatThisStreamWasNeverGivenIsFailedPrecondition) {
  StartBrokerd();
  auto transport = client::MakeGrpcTransport(Transport());
  ASSERT_TRUE(transport.ok());
  auto client = Connect();
  ASSERT_TRUE(client->Publish("orders", {.payload = "one"}).get().ok());
  auto first = (*transport)->Subscribe("orders", "billing", {.member = "first"});
  auto second = (*transport)->Subscribe("orders", "billing", {.member = "second"});
  ASSERT_TRUE(first.ok() && second.ok());
  auto got = (*first)->Poll(1, 5s);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  const Record& r = got->front().record;
  EXPECT_EQ((*second)->Ack(r.partition, r.offset).code(), StatusCode::kFailedPrecondition)
      << "leased to another member";
  EXPECT_EQ((*second)->Ack(PartitionId(0), Offset(99)).code(), StatusCode::kFailedPrecondition)
      << "never delivered";
  EXPECT_TRUE((*first)->Ack(r.partition, r.offset).ok()) << "the real holder still can";
  EXPECT_EQ((*first)->Ack(r.partition, r.offset).code(), StatusCode::kFailedPrecondition)
      << "a second ack";
}

TEST_F(BrokerdTest, StreamThatSendsOnlyCreditsIsRefused) {
  StartBrokerd();
  auto stub = RawStub(brokerd_->address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = stub->Subscribe(&context);
  ASSERT_TRUE(stream->Write(CreditFrame(100)));
  stream->WritesDone();
  v1::SubscribeResponse response;
  while (stream->Read(&response)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST_F(BrokerdTest, LeasesOfAClientThatVanishesMidStreamGoBackAtOnce) {
  StartBrokerd();
  auto client = Connect();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client->Publish("orders", {.payload = "m" + std::to_string(i)}).get().ok());
  }
  {
    auto stub = RawStub(brokerd_->address());
    grpc::ClientContext context;
    auto stream = stub->Subscribe(&context);
    v1::SubscribeRequest start = StartFrame("orders", "billing");
    start.mutable_start()->set_member("ghost");
    start.mutable_start()->mutable_group_config()->set_ack_timeout_ms(600000);  // 10 minutes
    ASSERT_TRUE(stream->Write(start));
    ASSERT_TRUE(stream->Write(CreditFrame(5)));
    int deliveries = 0;
    v1::SubscribeResponse response;
    while (deliveries < 5 && stream->Read(&response)) {
      if (response.has_delivery()) ++deliveries;  // a client must accept both forms
      if (response.has_delivery_batch()) deliveries += response.delivery_batch().deliveries_size();
    }
    ASSERT_EQ(deliveries, 5);
    context.TryCancel();  // gone without a word: no acks, no half-close
  }
  std::mutex mu;
  std::set<std::string> redelivered;
  auto consumer = client->Subscribe("orders", "billing", [&](const client::ReceivedMessage& m) {
    std::lock_guard lock(mu);
    if (m.attempt == 2) redelivered.insert(m.record.payload);
  });
  ASSERT_TRUE(consumer.ok());
  EXPECT_TRUE(StatsReach(**consumer, [](const auto& s) { return s.acked == 5; }))
      << "the vanished member's leases return long before their 10-minute ack timeout";
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(redelivered.size(), 5u) << "each message's second delivery";
  }
  (void)(*consumer)->Close(5s);
}

// Each delivery batch says how many credit frames brokerd had applied when it leased it, so a
// client that revoked and granted again can tell deliveries of its old credit from its new one.
TEST_F(BrokerdTest, DeliveryBatchesTellWhichCreditTheyWereLeasedUnder) {
  StartBrokerd();
  auto client = Connect();
  ASSERT_TRUE(client->Publish("orders", {.payload = "a"}).get().ok());
  auto stub = RawStub(brokerd_->address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  auto stream = stub->Subscribe(&context);
  ASSERT_TRUE(stream->Write(StartFrame("orders", "billing")));
  auto credit = [&](uint32_t messages) {
    return stream->Write(CreditFrame(messages, /*replace=*/true));
  };
  // Reads until a delivery batch; returns its credit_frames and payloads.
  auto next_batch = [&](std::vector<std::string>* payloads) -> uint64_t {
    v1::SubscribeResponse response;
    while (stream->Read(&response)) {
      if (!response.has_delivery_batch()) continue;
      for (const auto& d : response.delivery_batch().deliveries()) {
        payloads->push_back(d.record().payload());
      }
      return response.delivery_batch().credit_frames();
    }
    return 0;
  };

  ASSERT_TRUE(credit(1));  // frame 1
  std::vector<std::string> first;
  EXPECT_EQ(next_batch(&first), 1u);
  EXPECT_EQ(first, std::vector<std::string>{"a"});

  ASSERT_TRUE(credit(0));  // frame 2: revoke
  ASSERT_TRUE(credit(2));  // frame 3: grant again
  ASSERT_TRUE(client->Publish("orders", {.payload = "b"}).get().ok());
  std::vector<std::string> second;
  EXPECT_EQ(next_batch(&second), 3u) << "leased under the third credit frame";
  EXPECT_EQ(second, std::vector<std::string>{"b"});
  context.TryCancel();
}

// A requester that sends requests faster than brokerd commits them: brokerd stops reading its
// inbox stream at 1024 requests being published and reads on as they complete, so every request
// is published, none is refused, and the stream still ends cleanly on half-close. (20,000 requests
// of 256 bytes paused the reading 8 times when this test was written.)
TEST_F(BrokerdTest, ABurstOfRequestsOnOneInboxStreamIsPublishedWhole) {
  StartBrokerd();
  auto client = Connect();
  auto consumer = client->Subscribe("burst", "svc", [](const client::ReceivedMessage&) {});
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto stub = RawStub(brokerd_->address());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 120s);
  auto stream = stub->OpenInbox(&context);
  v1::InboxEvent event;
  ASSERT_TRUE(stream->Read(&event));
  ASSERT_FALSE(event.address().empty()) << "the first event names the inbox";

  constexpr int kRequests = 20000;
  v1::InboxCommand command;
  auto* request = command.mutable_request();
  request->set_topic("burst");
  request->mutable_message()->set_payload(std::string(256, 'r'));
  for (int i = 0; i < kRequests; ++i) {
    request->set_correlation_id("c" + std::to_string(i));
    ASSERT_TRUE(stream->Write(command)) << "write " << i;
  }
  ASSERT_TRUE(stream->WritesDone());
  int failed = 0;
  while (stream->Read(&event)) {
    if (event.has_request_failed()) ++failed;
  }
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(failed, 0);
  EXPECT_TRUE(StatsReach(
      **consumer, [](const auto& s) { return s.acked == kRequests; }, 60s))
      << "acked " << (*consumer)->stats().acked << " of " << kRequests;
  (void)(*consumer)->Close(5s);
}

}  // namespace
}  // namespace broker::integration
