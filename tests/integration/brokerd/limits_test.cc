// The caps brokerd applies at its boundary (broker/rpc/limits.h, docs/operations.md "Limits"),
// each against a real brokerd: max_in_flight and credits per member, nack/reject text, and the
// ListDeadLetters page size with paging.
#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <vector>

#include "broker/v1/admin.grpc.pb.h"
#include "broker/v1/broker.grpc.pb.h"
#include "brokerd_fixture.h"
#include "raw_grpc.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class BrokerdLimitsTest : public BrokerdTest {
 protected:
  std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials());
  }

  // Publishes `count` messages to `topic` in batches.
  void PublishMany(const std::string& topic, int count) {
    auto stub = v1::BrokerService::NewStub(Channel());
    for (int sent = 0; sent < count;) {
      v1::PublishRequest request;
      request.set_topic(topic);
      for (int i = 0; i < 1000 && sent < count; ++i, ++sent) {
        request.add_messages()->set_payload("m" + std::to_string(sent));
      }
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 30s);
      v1::PublishResponse response;
      grpc::Status status = stub->Publish(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  // Rejects every message of `topic` (one at a time, through the gRPC transport) into the dead
  // letters of `group`.
  void DeadLetterAll(const std::string& topic, const std::string& group, int count,
                     const std::string& reason = "bad") {
    auto transport = client::MakeGrpcTransport(Transport());
    ASSERT_TRUE(transport.ok());
    auto subscription =
        (*transport)->Subscribe(topic, group, {.member = "rejecter", .max_in_flight = 1024});
    ASSERT_TRUE(subscription.ok()) << subscription.status().ToString();
    for (int rejected = 0; rejected < count;) {
      auto got = (*subscription)->Poll(1024, 10s);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_FALSE(got->empty()) << "after " << rejected;
      for (const Delivery& d : *got) {
        ASSERT_TRUE((*subscription)->Reject(d.record.partition, d.record.offset, reason).ok());
        ++rejected;
      }
    }
    // A reject is answered before its dead letter is committed (with the group's batched state).
    EXPECT_TRUE(Eventually([&] { return CountDeadLetters(topic, group) == count; }));
  }

  // Every dead letter of the group, page by page.
  int CountDeadLetters(const std::string& topic, const std::string& group) {
    v1::ListDeadLettersRequest request;
    request.set_topic(topic);
    request.set_group(group);
    request.set_limit(1000);
    int count = 0;
    do {
      v1::ListDeadLettersResponse response;
      if (!List(request, &response).ok()) return -1;
      count += response.dead_letters_size();
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return count;
  }

  grpc::Status List(const v1::ListDeadLettersRequest& request,
                    v1::ListDeadLettersResponse* response) {
    auto stub = v1::AdminService::NewStub(Channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    return stub->ListDeadLetters(&context, request, response);
  }
};

TEST_F(BrokerdLimitsTest, MaxInFlightOverTheLimitIsInvalidArgumentNamingIt) {
  StartBrokerd();
  auto stub = v1::BrokerService::NewStub(Channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  auto stream = stub->Subscribe(&context);
  ASSERT_TRUE(stream->Write(StartFrame("orders", "billing", 100000)));
  v1::SubscribeResponse response;
  while (stream->Read(&response)) {
    EXPECT_FALSE(response.has_started()) << "the member must not join";
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "max_in_flight 100000 is over brokerd's limit of 4096 per member");

  // 4096 itself is allowed.
  grpc::ClientContext ok_context;
  ok_context.set_deadline(std::chrono::system_clock::now() + 20s);
  auto ok_stream = stub->Subscribe(&ok_context);
  ASSERT_TRUE(ok_stream->Write(StartFrame("orders", "billing", 4096)));
  ASSERT_TRUE(ok_stream->Read(&response));
  EXPECT_TRUE(response.has_started());
  ok_context.TryCancel();
}

// Credit beyond 4096 is clamped: after 4096 deliveries under a credit of 10,000 and their acks,
// nothing more comes until the next credit frame (a delivery batch says which credit frame it was
// leased under).
TEST_F(BrokerdLimitsTest, OutstandingCreditIsClampedToTheMemberLimit) {
  StartBrokerd();
  PublishMany("orders", 4100);
  auto stub = v1::BrokerService::NewStub(Channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  auto stream = stub->Subscribe(&context);
  ASSERT_TRUE(stream->Write(StartFrame("orders", "billing", 4096)));
  ASSERT_TRUE(stream->Write(CreditFrame(10000)));  // additive: frame 1

  v1::SubscribeRequest acks;
  size_t delivered = 0;
  v1::SubscribeResponse response;
  while (delivered < 4096 && stream->Read(&response)) {
    if (!response.has_delivery_batch()) continue;
    EXPECT_EQ(response.delivery_batch().credit_frames(), 1u);
    for (const auto& d : response.delivery_batch().deliveries()) {
      auto* settle = acks.mutable_settle_batch()->add_settles();
      settle->mutable_ref()->set_partition(d.record().partition());
      settle->mutable_ref()->set_offset(d.record().offset());
      ++delivered;
    }
  }
  ASSERT_EQ(delivered, 4096u);
  ASSERT_TRUE(stream->Write(acks));          // frees every lease: only the credit limits now
  ASSERT_TRUE(stream->Write(CreditFrame(1)));  // frame 2
  while (stream->Read(&response)) {
    if (!response.has_delivery_batch()) continue;
    EXPECT_EQ(response.delivery_batch().credit_frames(), 2u)
        << "leased under the first credit: it was not clamped to 4096";
    EXPECT_EQ(response.delivery_batch().deliveries_size(), 1);
    break;
  }
  context.TryCancel();
}

TEST_F(BrokerdLimitsTest, RejectReasonIsCutTo4KiBAtACharacterBoundary) {
  StartBrokerd();
  PublishMany("orders", 1);
  std::string reason;
  while (reason.size() < 10000) reason += "\xE2\x82\xAC";  // U+20AC, 3 bytes
  DeadLetterAll("orders", "billing", 1, reason);
  v1::ListDeadLettersRequest request;
  request.set_topic("orders");
  request.set_group("billing");
  v1::ListDeadLettersResponse response;
  grpc::Status status = List(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.dead_letters_size(), 1);
  const std::string& kept = response.dead_letters(0).last_error();
  EXPECT_EQ(kept.size(), 4095u) << "4096 would split a 3-byte character";
  EXPECT_EQ(kept, reason.substr(0, 4095));
  std::string header;
  for (const auto& h : response.dead_letters(0).record().headers()) {
    if (h.name() == "dlq.last_error") header = h.value();
  }
  EXPECT_EQ(header, kept) << "the dead letter's header carries the same bounded text";
}

TEST_F(BrokerdLimitsTest, DeadLettersComeInPagesOfAtMost1000WithPageTokens) {
  StartBrokerd();
  PublishMany("orders", 1001);
  DeadLetterAll("orders", "billing", 1001);

  v1::ListDeadLettersRequest request;
  request.set_topic("orders");
  request.set_group("billing");
  v1::ListDeadLettersResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.dead_letters_size(), 100) << "the default page";
  EXPECT_FALSE(response.next_page_token().empty());

  request.set_limit(5000);
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.dead_letters_size(), 1000) << "coerced to the largest page";
  ASSERT_FALSE(response.next_page_token().empty());
  request.set_page_token(response.next_page_token());
  response.Clear();
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.dead_letters_size(), 1);
  EXPECT_TRUE(response.next_page_token().empty()) << "the last page";

  // Pages of 400 see every dead letter once, in order.
  request.set_limit(400);
  request.clear_page_token();
  std::vector<uint64_t> original_offsets;
  std::vector<int> page_sizes;
  do {
    response.Clear();
    ASSERT_TRUE(List(request, &response).ok());
    page_sizes.push_back(response.dead_letters_size());
    for (const auto& d : response.dead_letters()) original_offsets.push_back(d.original_offset());
    request.set_page_token(response.next_page_token());
  } while (!response.next_page_token().empty() && page_sizes.size() < 10);
  EXPECT_EQ(page_sizes, (std::vector<int>{400, 400, 201}));
  ASSERT_EQ(original_offsets.size(), 1001u);
  EXPECT_EQ(std::set<uint64_t>(original_offsets.begin(), original_offsets.end()).size(), 1001u);

  request.set_page_token("not-a-token");
  response.Clear();
  grpc::Status bad = List(request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("page_token"), std::string::npos) << bad.error_message();
}

}  // namespace
}  // namespace broker::integration
