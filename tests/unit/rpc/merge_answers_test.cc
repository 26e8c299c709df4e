// MergeSubscribeResponses (broker/rpc/merge_answers.h): which Subscribe responses fold into one
// still waiting behind a write, and that answers keep their order and deliveries their credit.
#include "rpc/merge_answers.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "rpc/limits.h"

namespace broker::rpc {
namespace {

using Response = v1::SubscribeResponse;

Response Answer(uint64_t id) {
  Response r;
  r.mutable_settled()->set_request_id(id);
  return r;
}

Response Answers(std::vector<uint64_t> ids) {
  Response r;
  for (uint64_t id : ids) r.mutable_settled_batch()->add_settled()->set_request_id(id);
  return r;
}

Response Deliveries(uint64_t credit_frames, std::vector<uint64_t> offsets) {
  Response r;
  r.mutable_delivery_batch()->set_credit_frames(credit_frames);
  for (uint64_t o : offsets) {
    r.mutable_delivery_batch()->add_deliveries()->mutable_record()->set_offset(o);
  }
  return r;
}

std::vector<uint64_t> Ids(const google::protobuf::RepeatedPtrField<Response::Settled>& answers) {
  std::vector<uint64_t> ids;
  for (const auto& a : answers) ids.push_back(a.request_id());
  return ids;
}

std::vector<uint64_t> Offsets(const Response& r) {
  std::vector<uint64_t> offsets;
  for (const auto& d : r.delivery_batch().deliveries()) offsets.push_back(d.record().offset());
  return offsets;
}

TEST(MergeSubscribeResponsesTest, AnswersJoinWaitingAnswersInOrder) {
  Response waiting = Answer(1);
  Response incoming = Answers({2, 3});
  ASSERT_TRUE(MergeSubscribeResponses(waiting, incoming));
  ASSERT_TRUE(waiting.has_settled_batch());
  EXPECT_EQ(Ids(waiting.settled_batch().settled()), (std::vector<uint64_t>{1, 2, 3}));
  Response fourth = Answer(4);
  ASSERT_TRUE(MergeSubscribeResponses(waiting, fourth));
  EXPECT_EQ(Ids(waiting.settled_batch().settled()), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(MergeSubscribeResponsesTest, AnswersRideInWaitingDeliveries) {
  Response waiting = Deliveries(3, {10, 11});
  Response incoming = Answers({7, 8});
  ASSERT_TRUE(MergeSubscribeResponses(waiting, incoming));
  ASSERT_TRUE(waiting.has_delivery_batch());
  EXPECT_EQ(Offsets(waiting), (std::vector<uint64_t>{10, 11}));
  EXPECT_EQ(Ids(waiting.delivery_batch().settled()), (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(waiting.delivery_batch().credit_frames(), 3u);
}

TEST(MergeSubscribeResponsesTest, DeliveriesTakeTheWaitingAnswersFirst) {
  Response waiting = Answers({1, 2});
  Response incoming = Deliveries(4, {20});
  incoming.mutable_delivery_batch()->add_settled()->set_request_id(3);
  ASSERT_TRUE(MergeSubscribeResponses(waiting, incoming));
  ASSERT_TRUE(waiting.has_delivery_batch());
  EXPECT_EQ(Ids(waiting.delivery_batch().settled()), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Offsets(waiting), (std::vector<uint64_t>{20}));
  EXPECT_EQ(waiting.delivery_batch().credit_frames(), 4u);
}

TEST(MergeSubscribeResponsesTest, DeliveriesOfOneCreditMerge) {
  Response waiting = Deliveries(2, {1, 2});
  Response incoming = Deliveries(2, {3});
  ASSERT_TRUE(MergeSubscribeResponses(waiting, incoming));
  EXPECT_EQ(Offsets(waiting), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(MergeSubscribeResponsesTest, DeliveriesOfAnotherCreditStayApart) {
  Response waiting = Deliveries(2, {1});
  Response incoming = Deliveries(3, {2});
  EXPECT_FALSE(MergeSubscribeResponses(waiting, incoming));
  EXPECT_EQ(Offsets(waiting), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Offsets(incoming), (std::vector<uint64_t>{2}));
}

TEST(MergeSubscribeResponsesTest, AMergedFrameHoldsAtMostOneLeaseRoundOfDeliveries) {
  std::vector<uint64_t> full(kMaxDeliveriesPerFrame);
  for (size_t i = 0; i < full.size(); ++i) full[i] = i;
  Response waiting = Deliveries(1, full);
  Response incoming = Deliveries(1, {999});
  EXPECT_FALSE(MergeSubscribeResponses(waiting, incoming));
  EXPECT_EQ(waiting.delivery_batch().deliveries_size(), kMaxDeliveriesPerFrame);
}

TEST(MergeSubscribeResponsesTest, StartedNeverMerges) {
  Response started;
  started.mutable_started()->set_member("m");
  Response answer = Answer(1);
  EXPECT_FALSE(MergeSubscribeResponses(started, answer));
  EXPECT_TRUE(started.has_started());
  Response waiting = Answer(1);
  EXPECT_FALSE(MergeSubscribeResponses(waiting, started));
  EXPECT_TRUE(waiting.has_settled());
}

}  // namespace
}  // namespace broker::rpc
