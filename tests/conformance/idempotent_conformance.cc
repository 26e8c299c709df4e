// The idempotent-consumer wrapper on a real subscription: a message id already processed is acked
// without running the handler again, remembered across reopening the store, and the store is
// bounded.
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker/client/idempotent.h"
#include "conformance_test.h"
#include "temp_dir.h"

namespace broker::conformance {
namespace {

using client::ConsumerOptions;
using client::IdempotentHandler;
using client::ProcessedStore;
using client::ReceivedMessage;

// An event with its own stable id: the same event published twice is two records, one id.
Message Event(const std::string& id) {
  return Message{.payload = "charge for " + id, .headers = {{"message_id", id}}};
}

TEST_P(IdempotentConformance, AlreadyProcessedIdsAreSkippedEvenAfterReopeningTheStore) {
  const std::string topic = Topic("order.created");
  TempDir dir;
  for (const char* id : {"evt-1", "evt-1", "evt-2"}) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, Event(id)).get());
  }
  Recorder<std::string> charged;
  auto charge = [&](const ReceivedMessage& m) {
    charged.Add(std::string(m.Header("message_id").value()));
  };
  {
    auto store = Must(ProcessedStore::Open(dir.Sub("processed")));
    auto consumer = Must(client().Subscribe(topic, "payments", IdempotentHandler(store, charge)));
    ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 3; }));
    CONFORMANCE_ASSERT_OK(consumer->Close());
  }
  EXPECT_EQ(charged.values(), (std::vector<std::string>{"evt-1", "evt-2"}));

  // A restarted service: the store is reopened from disk. A second group replays everything.
  auto reopened = Must(ProcessedStore::Open(dir.Sub("processed")));
  EXPECT_TRUE(Must(reopened->Contains("evt-1")));
  EXPECT_EQ(reopened->size(), 2u);
  CONFORMANCE_ASSERT_OK(client().Publish(topic, Event("evt-3")).get());
  auto replay =
      Must(client().Subscribe(topic, "payments-replay", IdempotentHandler(reopened, charge)));
  ASSERT_TRUE(StatsReach(*replay, [&](const auto& s) { return s.acked == 4; }));
  EXPECT_EQ(charged.values(), (std::vector<std::string>{"evt-1", "evt-2", "evt-3"}));
}

// Messages without a message_id are known by their position, which a topic deleted and created
// again reuses: the new message at offset 0 is not the old one and must run.
TEST_P(IdempotentConformance, ARecreatedTopicsMessagesAreNotTakenForOldOnes) {
  Broker* broker = admin();
  if (broker == nullptr) GTEST_SKIP() << "deleting a topic needs the admin API";
  const std::string topic = Topic("order.created");
  TempDir dir;
  auto store = Must(ProcessedStore::Open(dir.Sub("processed")));
  Recorder<std::string> charged;
  auto charge = [&](const ReceivedMessage& m) { charged.Add(m.record.payload); };
  for (const char* payload : {"before", "after"}) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, {.payload = payload}).get());
    auto consumer = Must(client().Subscribe(topic, "payments", IdempotentHandler(store, charge)));
    ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 1; }));
    CONFORMANCE_ASSERT_OK(consumer->Close());
    CONFORMANCE_ASSERT_OK(broker->DeleteTopic(topic));
  }
  EXPECT_EQ(charged.values(), (std::vector<std::string>{"before", "after"}));
}

TEST_P(IdempotentConformance, AFailedAttemptIsNotRememberedSoTheRetryRuns) {
  const std::string topic = Topic("order.created");
  TempDir dir;
  auto store = Must(ProcessedStore::Open(dir.Sub("processed")));
  CONFORMANCE_ASSERT_OK(client().Publish(topic, Event("evt-1")).get());
  Recorder<uint32_t> runs;
  ConsumerOptions options;
  options.group = FastRetry(/*max_deliveries=*/5, std::chrono::milliseconds(10));
  auto consumer =
      Must(client().Subscribe(topic, "payments",
                              IdempotentHandler(store,
                                                [&](const ReceivedMessage& m) {
                                                  runs.Add(m.attempt);
                                                  if (m.attempt == 1)
                                                    throw std::runtime_error("gateway timeout");
                                                }),
                              options));
  ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 1; }));
  EXPECT_EQ(runs.values(), (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(Must(store->Contains("evt-1")));

  CONFORMANCE_ASSERT_OK(client().Publish(topic, Event("evt-1")).get());  // redelivered upstream
  ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 2; }));
  EXPECT_EQ(runs.size(), 2u);
}

TEST_P(IdempotentConformance, TheStoreIsBoundedAndForgetsTheOldestIds) {
  const std::string topic = Topic("order.created");
  TempDir dir;
  auto store = Must(ProcessedStore::Open(dir.Sub("processed"), /*capacity=*/2));
  for (const char* id : {"a", "b", "c", "a", "c"}) {
    CONFORMANCE_ASSERT_OK(client().Publish(topic, Event(id)).get());
  }
  Recorder<std::string> runs;
  auto consumer = Must(
      client().Subscribe(topic, "payments", IdempotentHandler(store, [&](const ReceivedMessage& m) {
                           runs.Add(std::string(m.Header("message_id").value()));
                         })));
  ASSERT_TRUE(StatsReach(*consumer, [&](const auto& s) { return s.acked == 5; }));
  // "a" was forgotten once "c" came (capacity 2), so it runs again; "c" was still remembered.
  EXPECT_EQ(runs.values(), (std::vector<std::string>{"a", "b", "c", "a"}));
  EXPECT_EQ(store->size(), 2u);
}

}  // namespace
}  // namespace broker::conformance
