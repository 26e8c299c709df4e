// ApplySettle (broker/rpc/apply_settle.h): a settle frame of the Subscribe stream, and the reply an
// ack may carry, applied to a member of an in-memory broker. The answers' codes are what the
// client library acts on, so the error paths are checked one by one.
#include "rpc/apply_settle.h"
#include "rpc/limits.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "rpc/status_mapping.h"

namespace broker::rpc {
namespace {

using Settle = v1::SubscribeRequest::Settle;

class ApplySettleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.in_memory = true;
    options.background_work = false;
    auto opened = Broker::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    broker_ = std::move(opened).value();
    ASSERT_TRUE(broker_->Publish("requests", {.payload = "q"}).ok());
    SubscribeOptions subscribe;
    subscribe.member = "m1";
    auto sub = broker_->Subscribe("requests", "svc", subscribe);
    ASSERT_TRUE(sub.ok()) << sub.status().ToString();
    sub_ = std::move(sub).value();
    auto leased = sub_->Poll(1, std::chrono::milliseconds(0));
    ASSERT_TRUE(leased.ok()) << leased.status().ToString();
    ASSERT_EQ(leased->size(), 1u);
    delivery_ = leased->front();
  }

  Settle SettleOf(Settle::Op op) const {
    Settle settle;
    settle.set_request_id(7);
    settle.set_op(op);
    settle.mutable_ref()->set_partition(delivery_.record.partition.value());
    settle.mutable_ref()->set_offset(delivery_.record.offset.value());
    settle.set_attempt(delivery_.attempt);
    return settle;
  }
  static void CarryReply(Settle& settle, const std::string& inbox, const std::string& payload) {
    settle.mutable_reply()->set_inbox(inbox);
    settle.mutable_reply()->mutable_reply()->set_payload(payload);
  }
  // An inbox whose replies land in replies_ (the broker calls it on the sending thread).
  void OpenInbox() {
    auto inbox = broker_->OpenInbox([this](Message reply) { replies_.push_back(reply.payload); });
    ASSERT_TRUE(inbox.ok()) << inbox.status().ToString();
    inbox_ = std::move(inbox).value();
  }
  MessageStatus StatusOfTheRequest() {
    auto states =
        broker_->GetMessageState("requests", delivery_.record.partition, delivery_.record.offset);
    EXPECT_TRUE(states.ok()) << states.status().ToString();
    return states.ok() && states->size() == 1 ? states->front().status : MessageStatus{};
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Subscription> sub_;
  Delivery delivery_;
  std::vector<std::string> replies_;
  std::unique_ptr<Inbox> inbox_;
};

TEST_F(ApplySettleTest, AnAckCarryingAReplyDeliversItThenAcks) {
  ASSERT_NO_FATAL_FAILURE(OpenInbox());
  Settle settle = SettleOf(Settle::OP_ACK);
  CarryReply(settle, inbox_->address(), "answer");
  v1::SubscribeResponse::Settled answer;
  EXPECT_TRUE(ApplySettle(*broker_, sub_.get(), settle, answer).ok());
  EXPECT_EQ(answer.request_id(), 7u);
  EXPECT_EQ(answer.code(), 0);
  EXPECT_EQ(answer.reply_code(), 0);
  EXPECT_EQ(replies_, std::vector<std::string>{"answer"});
  EXPECT_EQ(StatusOfTheRequest(), MessageStatus::kAcked);
}

TEST_F(ApplySettleTest, AReplyToAnInboxThatIsGoneIsNotFoundAndTheAckStillHappens) {
  Settle settle = SettleOf(Settle::OP_ACK);
  CarryReply(settle, "inbox-that-closed", "answer");
  v1::SubscribeResponse::Settled answer;
  EXPECT_TRUE(ApplySettle(*broker_, sub_.get(), settle, answer).ok());
  EXPECT_EQ(answer.code(), 0) << "the ack does not depend on the reply";
  EXPECT_EQ(answer.reply_code(), static_cast<int32_t>(grpc::StatusCode::NOT_FOUND));
  EXPECT_FALSE(answer.reply_message().empty());
  EXPECT_EQ(StatusOfTheRequest(), MessageStatus::kAcked);
}

TEST_F(ApplySettleTest, AReplyTheCheckRefusesIsNotSentAndTheAckStillHappens) {
  ASSERT_NO_FATAL_FAILURE(OpenInbox());
  Settle settle = SettleOf(Settle::OP_ACK);
  CarryReply(settle, inbox_->address(), "spoofed");
  v1::SubscribeResponse::Settled answer;
  const ReplyCheck refuse = [](const v1::SendReplyRequest&) {
    return Status::PermissionDenied("no such request");
  };
  EXPECT_TRUE(ApplySettle(*broker_, sub_.get(), settle, answer, refuse).ok());
  EXPECT_EQ(answer.code(), 0);
  EXPECT_EQ(answer.reply_code(), static_cast<int32_t>(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(replies_.empty()) << "a refused reply never reaches the inbox";
  EXPECT_EQ(StatusOfTheRequest(), MessageStatus::kAcked);
}

TEST_F(ApplySettleTest, NackTextIsCutToTheLimit) {
  Settle settle = SettleOf(Settle::OP_NACK);
  settle.set_text(std::string(10000, 'e'));
  v1::SubscribeResponse::Settled answer;
  EXPECT_TRUE(ApplySettle(*broker_, sub_.get(), settle, answer).ok());
  auto states =
      broker_->GetMessageState("requests", delivery_.record.partition, delivery_.record.offset);
  ASSERT_TRUE(states.ok() && states->size() == 1);
  EXPECT_EQ(states->front().last_error, std::string(kMaxSettleTextBytes, 'e'));
}

TEST_F(ApplySettleTest, OnlyAnAckMayCarryAReply) {
  ASSERT_NO_FATAL_FAILURE(OpenInbox());
  Settle settle = SettleOf(Settle::OP_NACK);
  CarryReply(settle, inbox_->address(), "answer");
  v1::SubscribeResponse::Settled answer;
  EXPECT_TRUE(ApplySettle(*broker_, sub_.get(), settle, answer).ok());
  EXPECT_EQ(answer.reply_code(), static_cast<int32_t>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(answer.reply_message().find("only an ack"), std::string::npos)
      << answer.reply_message();
  EXPECT_TRUE(replies_.empty()) << "the reply must not be sent";
  EXPECT_EQ(answer.code(), 0) << "the nack itself is applied";
  EXPECT_NE(StatusOfTheRequest(), MessageStatus::kAcked);
}

TEST_F(ApplySettleTest, SettlingBeforeStartIsAFailedPreconditionAndSendsNoReply) {
  ASSERT_NO_FATAL_FAILURE(OpenInbox());
  Settle settle = SettleOf(Settle::OP_ACK);
  CarryReply(settle, inbox_->address(), "answer");
  v1::SubscribeResponse::Settled answer;
  const Status status = ApplySettle(*broker_, nullptr, settle, answer);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_EQ(answer.code(), static_cast<int32_t>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(answer.request_id(), 7u);
  EXPECT_EQ(answer.reply_code(), static_cast<int32_t>(grpc::StatusCode::FAILED_PRECONDITION))
      << "the reply was not sent: its code must not read as OK";
  EXPECT_TRUE(replies_.empty());
}

TEST_F(ApplySettleTest, AnUnknownOpIsAnInvalidArgumentAndSettlesNothing) {
  Settle settle = SettleOf(static_cast<Settle::Op>(99));
  v1::SubscribeResponse::Settled answer;
  const Status status = ApplySettle(*broker_, sub_.get(), settle, answer);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_EQ(answer.code(), static_cast<int32_t>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(StatusOfTheRequest(), MessageStatus::kLeased);
}

TEST_F(ApplySettleTest, AStaleAttemptIsAFailedPreconditionAndLeavesTheLease) {
  Settle settle = SettleOf(Settle::OP_ACK);
  settle.set_attempt(delivery_.attempt + 1);
  v1::SubscribeResponse::Settled answer;
  const Status status = ApplySettle(*broker_, sub_.get(), settle, answer);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(answer.code(), static_cast<int32_t>(ToGrpcCode(status.code())));
  EXPECT_EQ(StatusOfTheRequest(), MessageStatus::kLeased);
}

}  // namespace
}  // namespace broker::rpc

namespace broker::rpc {
namespace {

TEST_F(ApplySettleTest, AReleaseMakesTheMessageAvailableWithItsAttemptTakenBack) {
  v1::SubscribeResponse::Settled answer;
  EXPECT_TRUE(ApplySettle(*broker_, sub_.get(), SettleOf(Settle::OP_RELEASE), answer).ok());
  EXPECT_EQ(answer.code(), 0) << answer.message();
  auto states =
      broker_->GetMessageState("requests", delivery_.record.partition, delivery_.record.offset);
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ(states->front().status, MessageStatus::kAvailable);
  EXPECT_EQ(states->front().attempts, 0u);

  // Released already: a second release has no lease to act on.
  v1::SubscribeResponse::Settled again;
  EXPECT_EQ(ApplySettle(*broker_, sub_.get(), SettleOf(Settle::OP_RELEASE), again).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.code(), static_cast<int32_t>(grpc::StatusCode::FAILED_PRECONDITION));
}

}  // namespace
}  // namespace broker::rpc
