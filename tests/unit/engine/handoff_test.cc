// Direct hand-off: a record published while a member waits in Poll is leased to that member
// inside the commit that appends it (one commit for both, the lease and its attempt persisted
// with the record), and a commit that fails leaves no lease, no cursor move and no gap behind.
//
// Threads wait on futures with a generous deadline; nothing sleeps.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "broker/broker.h"
#include "write_fault_fixture.h"

namespace broker {
namespace {

using ::broker::testing::FaultFileSystem;
using ::broker::testing::PublishOnceWritable;
using ::broker::testing::WriteFaultTest;
using std::chrono::seconds;

constexpr auto kDeadline = seconds(20);  // far beyond any real wait; a hang fails, not blocks
constexpr std::string_view kTopic = "requests";
constexpr std::string_view kGroup = "responders";
using PollFuture = std::future<Result<std::vector<Delivery>>>;

class HandOffTest : public WriteFaultTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(WriteFaultTest::SetUp());
    ASSERT_OK(broker_->CreateTopic(kTopic, {.partitions = 1}));
  }
  void TearDown() override {
    sub_.reset();
    WriteFaultTest::TearDown();
  }
  void Subscribe() {
    SubscribeOptions options;
    options.member = "m1";
    options.group.backoff.jitter = 0;
    auto sub = broker_->Subscribe(kTopic, kGroup, options);
    ASSERT_OK(sub);
    sub_ = std::move(sub).value();
  }

  bool Waiting() {
    auto info = broker_->DescribeGroup(kTopic, kGroup);
    return info.ok() && info->members.size() == 1 && info->members[0].waiting;
  }
  // A Poll on another thread that has parked (waits for records).
  PollFuture ParkedPoll() {
    PollFuture polled = std::async(std::launch::async, [sub = sub_.get()] {
      return sub->Poll(10, std::chrono::minutes(1));
    });
    const auto give_up = std::chrono::steady_clock::now() + kDeadline;
    while (!Waiting() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    EXPECT_TRUE(Waiting()) << "the Poll did not park";
    return polled;
  }
  static std::vector<Delivery> Await(PollFuture& polled) {
    if (polled.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "the parked Poll was not woken";
      return {};
    }
    auto got = polled.get();
    EXPECT_OK(got);
    return got.ok() ? std::move(got).value() : std::vector<Delivery>{};
  }
  uint64_t Commits() { return broker_->GetWriteStats().commits; }
  MessageGroupState StateOf(Offset offset) {
    auto states = broker_->GetMessageState(kTopic, PartitionId(0), offset);
    EXPECT_OK(states);
    return states.ok() && states->size() == 1 ? states->front() : MessageGroupState{};
  }

  std::unique_ptr<Subscription> sub_;
};

TEST_F(HandOffTest, RecordAndItsLeaseAreOneCommit) {
  ASSERT_NO_FATAL_FAILURE(Subscribe());
  PollFuture polled = ParkedPoll();
  const uint64_t before = Commits();
  auto pos = broker_->Publish(kTopic, {.payload = "ping"});
  ASSERT_OK(pos);
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "ping");
  EXPECT_EQ(got[0].record.offset, pos->offset);
  EXPECT_EQ(got[0].attempt, 1u);
  EXPECT_EQ(got[0].lease_expires_at, clock_->Now() + GroupConfig{}.ack_timeout);
  EXPECT_EQ(Commits(), before + 1) << "the lease took a commit of its own";

  const MessageGroupState state = StateOf(pos->offset);
  EXPECT_EQ(state.status, MessageStatus::kLeased);
  EXPECT_EQ(state.leased_by, "m1");
  EXPECT_EQ(state.attempts, 1u);
  ASSERT_OK(sub_->Ack(pos->partition, pos->offset));
  EXPECT_EQ(StateOf(pos->offset).status, MessageStatus::kAcked);
}

TEST_F(HandOffTest, HandedOffAttemptCountsAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(Subscribe());
  PollFuture polled = ParkedPoll();
  auto pos = broker_->Publish(kTopic, {.payload = "ping"});
  ASSERT_OK(pos);
  ASSERT_EQ(Await(polled).size(), 1u);
  // The process goes away holding the lease: the subscription outlives the broker, so the lease
  // is never handed back.
  broker_.reset();
  sub_.reset();
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(StateOf(pos->offset).attempts, 1u);
  ASSERT_NO_FATAL_FAILURE(Subscribe());
  ASSERT_OK(broker_->RunDeliveryTimers());          // the lease expired with the process
  clock_->Advance(GroupConfig{}.backoff.initial);  // its redelivery falls due
  auto again = sub_->Poll(10, std::chrono::milliseconds(0));
  ASSERT_OK(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].record.payload, "ping");
  EXPECT_EQ((*again)[0].attempt, 2u);
}

TEST_F(HandOffTest, FailedCommitLeavesNoLeaseAndTheOffsetIsDeliveredWhenWritten) {
  ASSERT_NO_FATAL_FAILURE(Subscribe());
  PollFuture polled = ParkedPoll();
  fs_->SetFault(FaultFileSystem::Target::kAllWrites, FaultFileSystem::Error::kNoSpace);
  auto failed = broker_->Publish(kTopic, {.payload = "lost"});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kResourceExhausted);
  // The Poll waits on: nothing was leased to it, nothing moved.
  {
    auto info = broker_->DescribeGroup(kTopic, kGroup);
    ASSERT_OK(info);
    EXPECT_EQ(info->members[0].leased, 0u);
    EXPECT_EQ(info->total.unsettled, 0u);
    EXPECT_EQ(info->counters.delivered, 0u);
  }
  EXPECT_EQ(polled.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  fs_->ClearFault();
  auto pos = PublishOnceWritable(*broker_, kTopic, {.payload = "after"});
  ASSERT_OK(pos);
  EXPECT_EQ(pos->offset, Offset(0));  // the failed publish's offset, reused
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "after");
  EXPECT_EQ(got[0].record.offset, Offset(0));
  EXPECT_EQ(got[0].attempt, 1u);
  auto info = broker_->DescribeGroup(kTopic, kGroup);
  ASSERT_OK(info);
  EXPECT_EQ(info->total.in_flight, 1u);
  EXPECT_EQ(info->total.backlog, 0u);
  EXPECT_EQ(info->counters.delivered, 1u);
}

// The publishing thread commits the request itself (PublishOptions::inline_commit, idle writer):
// the hand-off is staged in that commit as in the writer's, and a failed one leaves no lease.
TEST_F(HandOffTest, InlineCommitHandsOffAndAFailedOneLeavesNoLease) {
  ASSERT_NO_FATAL_FAILURE(Subscribe());
  PublishOptions inline_async;
  inline_async.durability = Durability::kAsync;
  inline_async.inline_commit = true;
  PollFuture polled = ParkedPoll();
  fs_->SetFault(FaultFileSystem::Target::kAllWrites, FaultFileSystem::Error::kNoSpace);
  auto failed = broker_->PublishBatch(kTopic, {{.payload = "lost"}}, inline_async);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kResourceExhausted);
  {
    auto info = broker_->DescribeGroup(kTopic, kGroup);
    ASSERT_OK(info);
    EXPECT_EQ(info->members[0].leased, 0u);
    EXPECT_EQ(info->total.unsettled, 0u);
  }
  EXPECT_EQ(polled.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  fs_->ClearFault();
  ASSERT_OK(broker_->WaitUntilDiskWritable(std::chrono::seconds(20)));
  const uint64_t before = Commits();
  auto pos = broker_->PublishBatch(kTopic, {{.payload = "ping"}}, inline_async);
  ASSERT_OK(pos);
  EXPECT_EQ(pos->front().offset, Offset(0));
  std::vector<Delivery> got = Await(polled);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "ping");
  EXPECT_EQ(got[0].attempt, 1u);
  EXPECT_EQ(Commits(), before + 1) << "the lease took a commit of its own";
  EXPECT_EQ(StateOf(Offset(0)).status, MessageStatus::kLeased);
}

}  // namespace
}  // namespace broker
