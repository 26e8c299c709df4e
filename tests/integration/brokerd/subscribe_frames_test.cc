// How the Subscribe stream packs settles, credits and answers into frames: a SettleBatch may carry
// the credit that follows it, and a client that set Start.merged_answers gets the answers inside
// the delivery frame of that lease round; a client that did not gets them as before, on their own.
#include <grpcpp/grpcpp.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "broker/client/grpc_transport.h"
#include "broker/v1/broker.grpc.pb.h"
#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class SubscribeFramesTest : public BrokerdTest {
 protected:
  // A raw stream of a member of "billing" on "orders", three messages published; returns the
  // first two deliveries (leased under credit frame 1) and acks them in a SettleBatch (request
  // ids 1 and 2) that carries a credit of 2.
  void StartAndAckTwoWithCredit(bool merged_answers) {
    StartBrokerd();
    auto client = Connect();
    for (const char* p : {"a", "b", "c"}) {
      ASSERT_TRUE(client->Publish("orders", {.payload = p}).get().ok());
    }
    stub_ = v1::BrokerService::NewStub(
        grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials()));
    context_.set_deadline(std::chrono::system_clock::now() + 30s);
    stream_ = stub_->Subscribe(&context_);
    v1::SubscribeRequest start;
    start.mutable_start()->set_topic("orders");
    start.mutable_start()->set_group("billing");
    start.mutable_start()->set_merged_answers(merged_answers);
    ASSERT_TRUE(stream_->Write(start));
    v1::SubscribeResponse response;
    ASSERT_TRUE(stream_->Read(&response));
    ASSERT_TRUE(response.has_started());
    EXPECT_TRUE(response.started().credit_in_settle_batch());

    v1::SubscribeRequest credit;
    credit.mutable_credit()->set_messages(2);
    credit.mutable_credit()->set_replace(true);
    ASSERT_TRUE(stream_->Write(credit));
    ASSERT_TRUE(stream_->Read(&response));
    ASSERT_TRUE(response.has_delivery_batch());
    ASSERT_EQ(response.delivery_batch().deliveries_size(), 2);

    v1::SubscribeRequest acks;
    uint64_t id = 0;
    for (const auto& d : response.delivery_batch().deliveries()) {
      auto* settle = acks.mutable_settle_batch()->add_settles();
      settle->set_request_id(++id);
      settle->mutable_ref()->set_partition(d.record().partition());
      settle->mutable_ref()->set_offset(d.record().offset());
    }
    acks.mutable_settle_batch()->mutable_credit()->set_messages(2);
    acks.mutable_settle_batch()->mutable_credit()->set_replace(true);
    ASSERT_TRUE(stream_->Write(acks));
  }

  static std::vector<uint64_t> AnsweredOk(
      const google::protobuf::RepeatedPtrField<v1::SubscribeResponse::Settled>& answers) {
    std::vector<uint64_t> ids;
    for (const auto& a : answers) {
      if (a.code() == 0) ids.push_back(a.request_id());
    }
    return ids;
  }

  static std::vector<std::string> Payloads(const v1::SubscribeResponse& response) {
    std::vector<std::string> payloads;
    for (const auto& d : response.delivery_batch().deliveries()) {
      payloads.push_back(d.record().payload());
    }
    return payloads;
  }

  std::unique_ptr<v1::BrokerService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>> stream_;
};

TEST_F(SubscribeFramesTest, SettleBatchWithACreditIsAnsweredInsideTheNextDeliveryFrame) {
  ASSERT_NO_FATAL_FAILURE(StartAndAckTwoWithCredit(/*merged_answers=*/true));
  v1::SubscribeResponse response;
  ASSERT_TRUE(stream_->Read(&response));
  ASSERT_TRUE(response.has_delivery_batch()) << "one frame for the answers and the lease round";
  EXPECT_EQ(AnsweredOk(response.delivery_batch().settled()), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Payloads(response), std::vector<std::string>{"c"});
  EXPECT_EQ(response.delivery_batch().credit_frames(), 2u)
      << "the credit a SettleBatch carries counts as a credit frame";
  context_.TryCancel();
}

TEST_F(SubscribeFramesTest, ClientWithoutMergedAnswersGetsItsAnswersInTheirOwnFrame) {
  ASSERT_NO_FATAL_FAILURE(StartAndAckTwoWithCredit(/*merged_answers=*/false));
  v1::SubscribeResponse response;
  ASSERT_TRUE(stream_->Read(&response));
  ASSERT_TRUE(response.has_settled_batch()) << "an older client reads answers only there";
  EXPECT_EQ(AnsweredOk(response.settled_batch().settled()), (std::vector<uint64_t>{1, 2}));
  ASSERT_TRUE(stream_->Read(&response));
  ASSERT_TRUE(response.has_delivery_batch());
  EXPECT_TRUE(response.delivery_batch().settled().empty());
  EXPECT_EQ(Payloads(response), std::vector<std::string>{"c"});
  EXPECT_EQ(response.delivery_batch().credit_frames(), 2u);
  context_.TryCancel();
}

// A credit inside a SettleBatch before Start ends the call as a Credit frame would, after
// answering the settles.
TEST_F(SubscribeFramesTest, CreditInASettleBatchBeforeStartIsFailedPrecondition) {
  StartBrokerd();
  auto stub = v1::BrokerService::NewStub(
      grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto stream = stub->Subscribe(&context);
  v1::SubscribeRequest early;
  auto* settle = early.mutable_settle_batch()->add_settles();
  settle->set_request_id(7);
  early.mutable_settle_batch()->mutable_credit()->set_messages(1);
  ASSERT_TRUE(stream->Write(early));
  v1::SubscribeResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_settled_batch());
  ASSERT_EQ(response.settled_batch().settled_size(), 1);
  EXPECT_EQ(response.settled_batch().settled(0).request_id(), 7u);
  EXPECT_EQ(response.settled_batch().settled(0).code(), grpc::StatusCode::FAILED_PRECONDITION);
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// The client library holds an AckAsync back for the frame that follows (the next Poll's credit,
// or more acks); one that nothing follows still goes out by itself, within a few milliseconds.
TEST_F(SubscribeFramesTest, AnAsyncAckThatNoPollFollowsIsStillSent) {
  StartBrokerd();
  ASSERT_TRUE(Connect()->Publish("orders", {.payload = "a"}).get().ok());
  auto transport = client::MakeGrpcTransport(Transport());
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  auto sub = (*transport)->Subscribe("orders", "billing", {});
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  auto polled = (*sub)->Poll(1, 20s);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  ASSERT_EQ(polled->size(), 1u);
  auto acked = std::make_shared<std::promise<Status>>();
  auto answer = acked->get_future();
  (*sub)->AckAsync(polled->front().record.partition, polled->front().record.offset,
                   [acked](Status s) { acked->set_value(std::move(s)); });
  ASSERT_EQ(answer.wait_for(20s), std::future_status::ready) << "the ack never left the client";
  EXPECT_TRUE(answer.get().ok());
  // brokerd took it: a second ack of the message is refused as already settled.
  EXPECT_EQ((*sub)->Ack(polled->front().record.partition, polled->front().record.offset).code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace broker::integration
