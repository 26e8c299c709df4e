// Concurrent publishers, durability modes and group commit.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "broker/broker.h"
#include "engine_test_util.h"

namespace broker {
namespace {

using ::broker::testing::DiskOptions;
using ::broker::testing::FakeClock;
using ::broker::testing::ReadAll;
using ::broker::testing::ScopedTempDir;
using ::broker::testing::TestOptions;

std::string PayloadFor(int thread, int i) {
  std::string payload = "thread-" + std::to_string(thread) + "-msg-" + std::to_string(i) + "|";
  payload.append(static_cast<size_t>(i % 97), static_cast<char>('a' + thread));
  return payload;
}

TEST(ConcurrencyTest, EightThreadsOnOnePartitionGetDenseUniqueOffsets) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  auto opened = Broker::Open(TestOptions(std::make_shared<FakeClock>()));
  ASSERT_OK(opened);
  Broker& broker = **opened;
  ASSERT_OK(broker.CreateTopic("t", {}));

  std::vector<std::vector<PublishResult>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = broker.Publish("t", {.payload = PayloadFor(t, i)});
        if (!r.ok()) {
          errors[t] = r.status().ToString();
          return;
        }
        results[t].push_back(*r);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  constexpr size_t kTotal = size_t{kThreads} * kPerThread;
  std::vector<std::string> expected(kTotal);
  std::vector<bool> seen(kTotal, false);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    ASSERT_EQ(results[t].size(), size_t{kPerThread});
    for (int i = 0; i < kPerThread; ++i) {
      const PublishResult& r = results[t][i];
      ASSERT_EQ(r.partition, PartitionId(0));
      ASSERT_LT(r.offset.value(), kTotal);
      ASSERT_FALSE(seen[r.offset.value()]) << "offset " << r.offset.value() << " given twice";
      seen[r.offset.value()] = true;
      expected[r.offset.value()] = PayloadFor(t, i);
      // One thread's publishes are ordered.
      if (i > 0) {
        ASSERT_LT(results[t][i - 1].offset, r.offset);
      }
    }
  }

  auto info = broker.DescribeTopic("t");
  ASSERT_OK(info);
  EXPECT_EQ(info->partitions[0].end_offset, Offset(kTotal));
  auto records = ReadAll(broker, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), kTotal);
  for (size_t o = 0; o < kTotal; ++o) {
    ASSERT_EQ((*records)[o].offset, Offset(o));
    ASSERT_EQ((*records)[o].payload, expected[o]) << "offset " << o;
  }
}

// Calls PublishAsync `n` times with one message each and waits for every callback.
Status PublishAsyncAndWait(Broker& broker, std::string_view topic, int n,
                           const PublishOptions& options) {
  std::mutex mu;
  std::condition_variable cv;
  int pending = n;
  Status first_error;
  for (int i = 0; i < n; ++i) {
    broker.PublishAsync(topic, {{.payload = "async-" + std::to_string(i)}}, options,
                        [&](Result<std::vector<PublishResult>> r) {
                          std::lock_guard lock(mu);
                          if (!r.ok() && first_error.ok()) first_error = r.status();
                          if (--pending == 0) cv.notify_all();
                        });
  }
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return pending == 0; })) {
    return Status::DeadlineExceeded(std::to_string(pending) + " publishes never completed");
  }
  return first_error;
}

TEST(ConcurrencyTest, AsyncDurabilityPublishesWithoutFsyncAndSurvivesReopen) {
  ScopedTempDir dir;
  auto clock = std::make_shared<FakeClock>();
  Options options = DiskOptions(dir, clock);
  options.durability = Durability::kAsync;
  {
    auto opened = Broker::Open(options);
    ASSERT_OK(opened);
    Broker& broker = **opened;
    ASSERT_OK(PublishAsyncAndWait(broker, "t", 200, {}));
    auto pos = broker.Publish("t", {.payload = "blocking"});
    ASSERT_OK(pos);
    EXPECT_EQ(pos->offset, Offset(200));
    const WriteStats stats = broker.GetWriteStats();
    EXPECT_EQ(stats.messages, 201u);
    EXPECT_EQ(stats.synced_commits, 0u);
    EXPECT_EQ(stats.synced_messages, 0u);

    // A publish may ask for sync on an async broker.
    ASSERT_OK(broker.Publish("t", {.payload = "synced"}, {.durability = Durability::kSync}));
    EXPECT_EQ(broker.GetWriteStats().synced_messages, 1u);
  }
  // A clean close loses nothing acknowledged in async mode.
  auto reopened = Broker::Open(options);
  ASSERT_OK(reopened);
  auto records = ReadAll(**reopened, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 202u);
  EXPECT_EQ((*records)[201].payload, "synced");
}

TEST(ConcurrencyTest, SyncBrokerHonoursAsyncPerPublish) {
  auto opened = Broker::Open(TestOptions(std::make_shared<FakeClock>()));
  ASSERT_OK(opened);
  ASSERT_OK(PublishAsyncAndWait(**opened, "t", 50, {.durability = Durability::kAsync}));
  const WriteStats stats = (*opened)->GetWriteStats();
  EXPECT_EQ(stats.messages, 50u);
  EXPECT_EQ(stats.synced_messages, 0u);
}

// A clock whose Now() blocks while the gate is closed. The broker reads the clock only on its
// writer thread, so closing the gate holds the writer still while publishes queue up.
class GateClock final : public Clock {
 public:
  TimePoint Now() const override {
    std::unique_lock lock(mu_);
    if (closed_) {
      ++blocked_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !closed_; });
    }
    return clock_.Now();
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  void Open() {
    std::lock_guard lock(mu_);
    closed_ = false;
    cv_.notify_all();
  }
  // Waits until a Now() call is blocked on the closed gate.
  bool WaitForBlocked(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return blocked_ > 0; });
  }

 private:
  testing::FakeClock clock_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool closed_ = false;       // guarded by mu_
  mutable int blocked_ = 0;   // guarded by mu_
};

TEST(ConcurrencyTest, GroupCommitSharesOneFsyncAmongQueuedPublishes) {
  constexpr int kPublishes = 500;
  auto clock = std::make_shared<GateClock>();
  ScopedTempDir dir;
  Options options;
  options.data_dir = dir.path();
  options.background_work = false;
  options.clock = clock;
  auto opened = Broker::Open(options);
  ASSERT_OK(opened);
  Broker& broker = **opened;
  ASSERT_OK(broker.CreateTopic("t", {}));
  const WriteStats before = broker.GetWriteStats();

  // Hold the writer inside RunRetention (which reads the clock on the writer thread).
  clock->Close();
  auto retention = std::async(std::launch::async, [&] { return broker.RunRetention(); });
  if (!clock->WaitForBlocked(std::chrono::seconds(30))) {
    clock->Open();
    FAIL() << "the writer never read the clock";
  }
  // Queue sync publishes from several threads while the writer is held, then let it go.
  std::mutex mu;
  std::condition_variable cv;
  int pending = kPublishes;
  Status first_error;
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (int i = t; i < kPublishes; i += 4) {
        broker.PublishAsync("t", {{.payload = std::to_string(i)}}, {},
                            [&](Result<std::vector<PublishResult>> r) {
                              std::lock_guard lock(mu);
                              if (!r.ok() && first_error.ok()) first_error = r.status();
                              if (--pending == 0) cv.notify_all();
                            });
      }
    });
  }
  for (auto& p : producers) p.join();
  clock->Open();
  ASSERT_OK(retention.get());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return pending == 0; }));
    ASSERT_OK(first_error);
  }

  const WriteStats after = broker.GetWriteStats();
  const uint64_t commits = after.synced_commits - before.synced_commits;
  const uint64_t messages = after.synced_messages - before.synced_messages;
  EXPECT_EQ(messages, uint64_t{kPublishes});
  ASSERT_GT(commits, 0u);
  EXPECT_GT(static_cast<double>(messages) / static_cast<double>(commits), 1.0)
      << messages << " messages in " << commits << " synced commits";
  std::cout << "group commit: " << messages << " sync publishes in " << commits
            << " synced commit(s)\n";
  RecordProperty("messages_per_synced_commit",
                 std::to_string(static_cast<double>(messages) / static_cast<double>(commits)));
}

}  // namespace
}  // namespace broker
