// Client::Publish over a fake transport: what the client adds to a message and how results and
// failures reach the caller's future.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/client/client.h"
#include "broker/client/headers.h"
#include "client_test_util.h"

namespace broker::client {
namespace {

using testing::FakeBroker;
using testing::FakeTransport;

class PublishTest : public ::testing::Test {
 protected:
  PublishTest()
      : broker_(std::make_shared<FakeBroker>()),
        client_(Client::Connect(std::make_unique<FakeTransport>(broker_))) {}
  std::shared_ptr<FakeBroker> broker_;
  std::unique_ptr<Client> client_;
};

TEST_F(PublishTest, IdempotencyKeyIsCopiedToMessageIdUnlessOneIsSet) {
  std::vector<Message> batch = {
      {.payload = "a", .idempotency_key = "k-1"},
      {.payload = "b", .headers = {{"message_id", "own"}}, .idempotency_key = "k-2"},
      {.payload = "c"},
  };
  ASSERT_TRUE(client_->PublishBatch("t", std::move(batch)).get().ok());
  const auto published = broker_->Published();
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[0].second.headers, (Headers{{"message_id", "k-1"}}));
  EXPECT_EQ(published[0].second.idempotency_key, "k-1") << "the broker still dedupes on it";
  EXPECT_EQ(published[1].second.headers, (Headers{{"message_id", "own"}}));
  EXPECT_TRUE(published[2].second.headers.empty());
}

TEST_F(PublishTest, SingleAndBatchResultsComeFromTheTransport) {
  auto one = client_->Publish("t", {.payload = "x"}).get();
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->offset, Offset(0));
  auto batch = client_->PublishBatch("t", {{.payload = "y"}, {.payload = "z"}}).get();
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[1].offset, Offset(2));
}

TEST_F(PublishTest, TransportFailureReachesTheFuture) {
  broker_->publish_status = Status::ResourceExhausted("disk full");
  EXPECT_EQ(client_->Publish("t", {.payload = "x"}).get().status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(client_->PublishBatch("t", {{.payload = "x"}}).get().status().code(),
            StatusCode::kResourceExhausted);
}

TEST_F(PublishTest, ClosedClientRefusesWithoutTouchingTheTransport) {
  client_->Close();
  EXPECT_EQ(client_->Publish("t", {.payload = "x"}).get().status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(broker_->Published().empty());
}

}  // namespace
}  // namespace broker::client
