// PublishOptions::inline_commit: with async durability and an idle writer, the publishing thread
// commits its own publish. These check when it does (and when it must not), that offsets stay
// dense and in publish order with inline and writer commits mixed, that dedupe spans both, and
// that a failed inline commit leaves nothing behind.
//
// The writer is held busy deterministically by a queued publish whose callback (on the writer
// thread) blocks until the test releases it; every wait has a deadline, nothing sleeps.
#include <gtest/gtest.h>

#include <rocksdb/env.h>

#include <future>
#include <thread>

#include "broker/broker.h"
#include "engine/broker_impl.h"
#include "engine_test_util.h"
#include "fault_file_system.h"

namespace broker {
namespace {

using ::broker::testing::DiskOptions;
using ::broker::testing::FakeClock;
using ::broker::testing::FaultFileSystem;
using ::broker::testing::ReadAll;
using ::broker::testing::ScopedTempDir;
using ::broker::testing::TestOptions;
using PublishResults = Result<std::vector<PublishResult>>;

constexpr auto kDeadline = std::chrono::seconds(20);  // a hang fails the test, not the run

PublishOptions Inline(Durability durability = Durability::kAsync) {
  PublishOptions options;
  options.durability = durability;
  options.inline_commit = true;
  return options;
}

// Where and with what a PublishAsync callback ran.
struct Completion {
  std::promise<std::pair<std::thread::id, PublishResults>> promise;
  std::future<std::pair<std::thread::id, PublishResults>> future = promise.get_future();
  Broker::PublishCallback Callback() {
    return [this](PublishResults r) { promise.set_value({std::this_thread::get_id(), std::move(r)}); };
  }
  bool Done() const { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
  std::pair<std::thread::id, PublishResults> Get() {
    EXPECT_EQ(future.wait_for(kDeadline), std::future_status::ready) << "the publish never completed";
    return future.get();
  }
};

// Publishes with inline_commit until a publish commits on this thread and returns its result.
// Right after a commit the writer may hold its turn a moment longer (it hands it back when it next
// takes its lock, after the commit's callbacks ran), and a publish then goes through the writer,
// correctly but not inline; the records of such attempts stay in the log.
PublishResults PublishInline(Broker& broker, const std::vector<Message>& messages) {
  const auto give_up = std::chrono::steady_clock::now() + kDeadline;
  for (;;) {
    Completion completion;
    broker.PublishAsync("t", messages, Inline(), completion.Callback());
    const bool was_done = completion.Done();
    auto [thread, result] = completion.Get();
    if (thread == std::this_thread::get_id()) {
      EXPECT_TRUE(was_done) << "an inline commit's callback ran after PublishAsync returned";
      return result;
    }
    if (std::chrono::steady_clock::now() > give_up) {
      ADD_FAILURE() << "no publish was committed inline";
      return result;
    }
  }
}

// Keeps the writer thread inside a commit (in its callback) until Release().
class WriterBlocker {
 public:
  explicit WriterBlocker(Broker& broker) {
    PublishOptions queued;  // no inline_commit: committed by the writer thread
    queued.durability = Durability::kAsync;
    broker.PublishAsync("t", {{.payload = "blocker"}}, queued, [this](PublishResults r) {
      ok_ = r.ok();
      entered_.set_value();
      release_.get_future().wait();  // the test holds the writer here
    });
    EXPECT_EQ(entered_.get_future().wait_for(kDeadline), std::future_status::ready);
  }
  void Release() { release_.set_value(); }
  bool ok() const { return ok_; }

 private:
  std::promise<void> entered_, release_;
  bool ok_ = false;  // written before entered_ is set
};

class InlineCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Broker::Open(TestOptions(clock_));
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
    ASSERT_OK(broker_->CreateTopic("t", {.partitions = 1}));
  }
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

TEST_F(InlineCommitTest, IdleWriterLetsTheCallerCommitAsyncPublishes) {
  auto result = PublishInline(*broker_, {{.payload = "a"}});
  ASSERT_OK(result);
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_FALSE(records->empty());
  EXPECT_EQ(result->front().offset, records->back().offset);
  EXPECT_EQ(records->back().payload, "a");
  for (size_t o = 0; o < records->size(); ++o) EXPECT_EQ((*records)[o].offset, Offset(o));
}

TEST_F(InlineCommitTest, SyncDurabilityAndPublishesWithoutTheOptionGoThroughTheWriter) {
  Completion sync_publish;  // the caller would wait for an fsync: never inline
  broker_->PublishAsync("t", {{.payload = "sync"}}, Inline(Durability::kSync),
                        sync_publish.Callback());
  EXPECT_NE(sync_publish.Get().first, std::this_thread::get_id());

  Completion plain;  // not asked for: the callback may take a lock the caller holds
  PublishOptions async;
  async.durability = Durability::kAsync;
  broker_->PublishAsync("t", {{.payload = "plain"}}, async, plain.Callback());
  EXPECT_NE(plain.Get().first, std::this_thread::get_id());
}

TEST_F(InlineCommitTest, BusyWriterQueuesInlineRequestsBehindItsCommitAndGroupsThem) {
  WriterBlocker blocker(*broker_);
  const uint64_t commits_before = broker_->GetWriteStats().commits;
  std::vector<std::unique_ptr<Completion>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::make_unique<Completion>());
    broker_->PublishAsync("t", {{.payload = "q" + std::to_string(i)}}, Inline(),
                          queued.back()->Callback());
    EXPECT_FALSE(queued.back()->Done()) << "committed while another commit was running";
  }
  blocker.Release();
  EXPECT_TRUE(blocker.ok());
  for (int i = 0; i < 3; ++i) {
    auto [thread, result] = queued[i]->Get();
    EXPECT_NE(thread, std::this_thread::get_id());
    ASSERT_OK(result);
    EXPECT_EQ(result->front().offset, Offset(1 + i));  // after the blocker, in publish order
  }
  // The three waited together and shared one commit (group commit under load).
  EXPECT_EQ(broker_->GetWriteStats().commits, commits_before + 1);

  // The writer handed the turn back: the next idle publish is inline again.
  auto after = PublishInline(*broker_, {{.payload = "after"}});
  ASSERT_OK(after);
  EXPECT_GE(after->front().offset, Offset(4));
}

TEST_F(InlineCommitTest, ConcurrentInlineAndQueuedPublishersGetDenseOrderedOffsets) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 1500;
  // Even threads ask for inline commits (Publish does, PublishAsync with the option); odd ones
  // go through the writer, some synced, so both kinds of commit interleave on one partition.
  std::vector<std::vector<Offset>> offsets(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string payload = std::to_string(t) + "-" + std::to_string(i);
        PublishOptions options = Inline();
        if (t % 2 == 1) options = PublishOptions{.durability = t == 1 ? Durability::kSync
                                                                       : Durability::kAsync};
        auto r = broker_->PublishBatch("t", {{.payload = payload}}, options);
        if (!r.ok()) {
          errors[t] = r.status().ToString();
          return;
        }
        offsets[t].push_back(r->front().offset);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  constexpr size_t kTotal = size_t{kThreads} * kPerThread;
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), kTotal);
  for (size_t o = 0; o < kTotal; ++o) ASSERT_EQ((*records)[o].offset, Offset(o));
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    ASSERT_EQ(offsets[t].size(), size_t{kPerThread});
    for (int i = 0; i < kPerThread; ++i) {
      if (i > 0) {
        ASSERT_LT(offsets[t][i - 1], offsets[t][i]) << "thread " << t;
      }
      ASSERT_EQ((*records)[offsets[t][i].value()].payload,
                std::to_string(t) + "-" + std::to_string(i));
    }
  }
  auto info = broker_->DescribeTopic("t");
  ASSERT_OK(info);
  EXPECT_EQ(info->partitions[0].end_offset, Offset(kTotal));
}

TEST_F(InlineCommitTest, DedupeSpansInlineAndWriterCommits) {
  auto first = broker_->PublishBatch("t", {{.payload = "first", .idempotency_key = "k1"}},
                                     Inline());
  ASSERT_OK(first);
  // The same key through the writer thread is the inline publish's duplicate...
  PublishOptions queued;
  queued.durability = Durability::kAsync;
  Completion repeat;
  broker_->PublishAsync("t", {{.payload = "retry", .idempotency_key = "k1"}}, queued,
                        repeat.Callback());
  auto [thread, repeated] = repeat.Get();
  ASSERT_OK(repeated);
  EXPECT_TRUE(repeated->front().duplicate);
  EXPECT_EQ(repeated->front().offset, first->front().offset);
  // ...and the other way round.
  Completion second;
  broker_->PublishAsync("t", {{.payload = "second", .idempotency_key = "k2"}}, queued,
                        second.Callback());
  ASSERT_OK(second.Get().second);
  auto again = broker_->PublishBatch("t", {{.payload = "retry", .idempotency_key = "k2"}},
                                     Inline());
  ASSERT_OK(again);
  EXPECT_TRUE(again->front().duplicate);
  EXPECT_EQ(again->front().offset, Offset(1));
  auto records = ReadAll(*broker_, "t", PartitionId(0));
  ASSERT_OK(records);
  EXPECT_EQ(records->size(), 2u);
}

TEST(InlineCommitFaultTest, FailedInlineCommitLeavesNothingAndTheOffsetIsReused) {
  auto fs = std::make_shared<FaultFileSystem>(rocksdb::FileSystem::Default());
  auto env = rocksdb::NewCompositeEnv(fs);
  ScopedTempDir dir;
  auto opened = BrokerImpl::Open(DiskOptions(dir, std::make_shared<FakeClock>()), env.get());
  ASSERT_OK(opened);
  std::unique_ptr<Broker> broker = std::move(opened).value();
  ASSERT_OK(broker->PublishBatch("t", {{.payload = "kept"}}, Inline()));

  fs->SetFault(FaultFileSystem::Target::kAllWrites, FaultFileSystem::Error::kNoSpace);
  auto result = PublishInline(*broker, {{.payload = "lost-0"}, {.payload = "lost-1"}});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted) << result.status().ToString();
  auto info = broker->DescribeTopic("t");
  ASSERT_OK(info);
  EXPECT_EQ(info->partitions[0].end_offset, Offset(1));

  fs->ClearFault();
  ASSERT_OK(broker->WaitUntilDiskWritable(std::chrono::seconds(20)));
  auto next = broker->PublishBatch("t", {{.payload = "next"}}, Inline());
  ASSERT_OK(next);
  EXPECT_EQ(next->front().offset, Offset(1));  // the failed publish left no gap
  auto records = ReadAll(*broker, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].payload, "kept");
  EXPECT_EQ((*records)[1].payload, "next");
  broker.reset();  // before env and fs
}

}  // namespace
}  // namespace broker
