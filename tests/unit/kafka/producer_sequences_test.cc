// ProducerSequences on a FakeClock: the sequence checks of idempotent producers, and the bound on
// what they keep (idle producers expire; beyond the cap the least recently used goes), so producer
// ids a client invents cannot grow the broker's memory.
#include "kafka/producer_sequences.h"

#include <gtest/gtest.h>

#include "broker/testing/fake_clock.h"

namespace broker::kafka {
namespace {

using std::chrono::minutes;

class ProducerSequencesTest : public ::testing::Test {
 protected:
  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  ProducerSequences sequences_{clock_,
                               SequenceLimits{.idle_timeout = minutes(15), .max_tracked = 10}};
};

TEST_F(ProducerSequencesTest, InventedProducerIdsStayWithinTheCap) {
  for (int64_t id = 1; id <= 1000; ++id) {
    ASSERT_EQ(sequences_.Check(id, 0, "orders", 0, 0, 1), ErrorCode::kNone);
  }
  EXPECT_EQ(sequences_.tracked(), 10u);
  // The most recent ones are still checked; the oldest was forgotten (accepted as after a
  // restart, whatever its sequence).
  EXPECT_EQ(sequences_.Check(1000, 0, "orders", 0, 5, 1), ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(sequences_.Check(1, 0, "orders", 0, 5, 1), ErrorCode::kNone);
  EXPECT_EQ(sequences_.tracked(), 10u);
}

TEST_F(ProducerSequencesTest, AnIdleProducerIsForgottenAndAnActiveOneKept) {
  ASSERT_EQ(sequences_.Check(1, 0, "orders", 0, 0, 10), ErrorCode::kNone);
  ASSERT_EQ(sequences_.Check(2, 0, "orders", 0, 0, 10), ErrorCode::kNone);
  clock_->Advance(minutes(10));
  ASSERT_EQ(sequences_.Check(2, 0, "orders", 0, 10, 10), ErrorCode::kNone);
  clock_->Advance(minutes(5));
  ASSERT_EQ(sequences_.Check(3, 0, "orders", 0, 0, 1), ErrorCode::kNone);
  EXPECT_EQ(sequences_.tracked(), 2u) << "producer 1 was idle for 15 minutes";
  EXPECT_EQ(sequences_.Check(2, 0, "orders", 0, 30, 1), ErrorCode::kOutOfOrderSequenceNumber)
      << "producer 2 is still checked";
  EXPECT_EQ(sequences_.Check(1, 0, "orders", 0, 30, 1), ErrorCode::kNone);
}

TEST_F(ProducerSequencesTest, GapsRetriesAndEpochs) {
  ASSERT_EQ(sequences_.Check(7, 1, "orders", 0, 0, 10), ErrorCode::kNone);
  EXPECT_EQ(sequences_.Check(7, 1, "orders", 0, 0, 10), ErrorCode::kNone) << "a retry";
  EXPECT_EQ(sequences_.Check(7, 1, "orders", 0, 11, 1), ErrorCode::kOutOfOrderSequenceNumber);
  EXPECT_EQ(sequences_.Check(7, 0, "orders", 0, 10, 1), ErrorCode::kInvalidProducerEpoch);
  EXPECT_EQ(sequences_.Check(7, 1, "orders", 1, 40, 1), ErrorCode::kNone) << "another partition";
  EXPECT_EQ(sequences_.Check(7, 1, "orders", 0, -1, 1), ErrorCode::kInvalidRecord);
}

}  // namespace
}  // namespace broker::kafka
