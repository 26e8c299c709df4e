// ProcessedStore (persistent, bounded set of processed message ids) and IdempotentHandler, called
// directly with made-up messages: no broker involved.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "broker/client/idempotent.h"
#include "client_test_util.h"

namespace broker::client {
namespace {

using testing::TempDir;

std::shared_ptr<ProcessedStore> OpenStore(const std::string& dir, size_t capacity = 1000) {
  auto store = ProcessedStore::Open(dir, capacity);
  if (!store.ok()) throw std::runtime_error(store.status().ToString());
  return *store;
}

bool Contains(ProcessedStore& store, std::string_view id) {
  auto r = store.Contains(id);
  if (!r.ok()) throw std::runtime_error(r.status().ToString());
  return *r;
}

ReceivedMessage MessageWithId(const std::string& id) {
  ReceivedMessage m;
  m.topic = "orders";
  m.record.headers = {{"message_id", id}};
  return m;
}

TEST(ProcessedStoreTest, RemembersAddedIds) {
  TempDir dir;
  auto store = OpenStore(dir.Sub("s"));
  EXPECT_FALSE(Contains(*store, "a"));
  ASSERT_TRUE(store->Add("a").ok());
  EXPECT_TRUE(Contains(*store, "a"));
  EXPECT_FALSE(Contains(*store, "b"));
  EXPECT_EQ(store->size(), 1u);
}

TEST(ProcessedStoreTest, ZeroCapacityIsInvalid) {
  TempDir dir;
  EXPECT_EQ(ProcessedStore::Open(dir.Sub("s"), 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProcessedStoreTest, ForgetsTheOldestBeyondCapacity) {
  TempDir dir;
  auto store = OpenStore(dir.Sub("s"), 3);
  for (const char* id : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(store->Add(id).ok());
  EXPECT_EQ(store->size(), 3u);
  EXPECT_FALSE(Contains(*store, "a"));
  EXPECT_FALSE(Contains(*store, "b"));
  EXPECT_TRUE(Contains(*store, "c"));
  EXPECT_TRUE(Contains(*store, "e"));
}

TEST(ProcessedStoreTest, IdsAndTheirAgeOrderSurviveReopening) {
  TempDir dir;
  {
    auto store = OpenStore(dir.Sub("s"), 3);
    for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(store->Add(id).ok());
  }
  auto store = OpenStore(dir.Sub("s"), 3);
  EXPECT_EQ(store->size(), 3u);
  EXPECT_FALSE(Contains(*store, "a"));
  EXPECT_TRUE(Contains(*store, "b"));
  // The oldest remembered id ("b") is the next to go.
  ASSERT_TRUE(store->Add("e").ok());
  EXPECT_FALSE(Contains(*store, "b"));
  EXPECT_TRUE(Contains(*store, "c"));
  EXPECT_TRUE(Contains(*store, "e"));
  EXPECT_EQ(store->size(), 3u);
}

TEST(ProcessedStoreTest, ASmallerCapacityOnReopenEvictsOnTheNextAdd) {
  TempDir dir;
  {
    auto store = OpenStore(dir.Sub("s"), 10);
    for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(store->Add(id).ok());
  }
  auto store = OpenStore(dir.Sub("s"), 2);
  ASSERT_TRUE(store->Add("e").ok());
  EXPECT_EQ(store->size(), 2u);
  EXPECT_TRUE(Contains(*store, "d"));
  EXPECT_TRUE(Contains(*store, "e"));
  EXPECT_FALSE(Contains(*store, "c"));
}

TEST(ProcessedStoreTest, ADirectoryInUseIsRefusedClearly) {
  TempDir dir;
  auto first = OpenStore(dir.Sub("s"));
  auto second = ProcessedStore::Open(dir.Sub("s"));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(dir.Sub("s")), std::string::npos)
      << second.status().ToString();
}

TEST(IdempotentHandlerTest, RunsOncePerIdAndRecordsOnlySuccess) {
  TempDir dir;
  auto store = OpenStore(dir.Sub("s"));
  int runs = 0;
  bool fail = true;
  auto handler = IdempotentHandler(store, [&](const ReceivedMessage&) {
    ++runs;
    if (fail) throw std::runtime_error("gateway timeout");
  });
  EXPECT_THROW(handler(MessageWithId("pay-1")), std::runtime_error);
  EXPECT_FALSE(Contains(*store, "pay-1")) << "a failed attempt must be retried, not skipped";
  fail = false;
  handler(MessageWithId("pay-1"));
  handler(MessageWithId("pay-1"));
  EXPECT_EQ(runs, 2);
  EXPECT_TRUE(Contains(*store, "pay-1"));
}

TEST(IdempotentHandlerTest, WithoutAMessageIdThePositionIsTheId) {
  TempDir dir;
  auto store = OpenStore(dir.Sub("s"));
  int runs = 0;
  auto handler = IdempotentHandler(store, [&](const ReceivedMessage&) { ++runs; });
  ReceivedMessage m;
  m.topic = "orders";
  m.record.offset = Offset(7);
  m.record.timestamp = TimePoint(std::chrono::microseconds(1767225600000000));
  handler(m);
  handler(m);
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(Contains(*store, "orders/0/7@1767225600000000"));
}

TEST(IdempotentHandlerTest, ConcurrentDuplicatesRunTheHandlerOnce) {
  TempDir dir;
  auto store = OpenStore(dir.Sub("s"));
  std::atomic<int> runs{0};
  std::mutex mu;
  std::condition_variable cv;
  bool first_started = false, release = false;
  auto handler = IdempotentHandler(store, [&](const ReceivedMessage&) {
    ++runs;
    std::unique_lock lock(mu);
    first_started = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return release; });
  });
  auto first = std::async(std::launch::async, [&] { handler(MessageWithId("evt")); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return first_started; }));
  }
  // The duplicate arrives while the first is still running: it waits for that outcome.
  auto second = std::async(std::launch::async, [&] { handler(MessageWithId("evt")); });
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(20)), std::future_status::timeout);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  first.get();
  second.get();
  EXPECT_EQ(runs.load(), 1);
}

TEST(IdempotentHandlerTest, DifferentIdsRunInParallel) {
  TempDir dir;
  auto store = OpenStore(dir.Sub("s"));
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  bool met = false;
  auto handler = IdempotentHandler(store, [&](const ReceivedMessage&) {
    std::unique_lock lock(mu);
    ++running;
    cv.notify_all();
    // Passes only if the other id's handler is running at the same time.
    if (cv.wait_for(lock, std::chrono::seconds(10), [&] { return running == 2; })) met = true;
  });
  auto a = std::async(std::launch::async, [&] { handler(MessageWithId("a")); });
  auto b = std::async(std::launch::async, [&] { handler(MessageWithId("b")); });
  a.get();
  b.get();
  EXPECT_TRUE(met);
}

}  // namespace
}  // namespace broker::client
