// GroupStore through the real LogWriter on an in-memory RocksDB: what the groups column family
// holds after group writes that fail (their changes given back, GroupStore::Restore) interleave
// with a dead-letter write. The state machine reads its log from memory (MemoryLog); the checks
// read the records a restart would load.
#include "delivery/group_store.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "broker/testing/fake_clock.h"
#include "memory_log.h"
#include "storage/append_notifier.h"
#include "storage/topic_registry.h"

namespace broker::delivery {
namespace {

using std::chrono::seconds;

const TopicId kTopic(1);

class GroupStoreTest : public ::testing::Test {
 protected:
  GroupStoreTest() : log_(1), state_("orders", "mailer", Config(), 1) {}

  static GroupConfig Config() {
    GroupConfig config;
    config.ack_timeout = seconds(30);
    config.max_deliveries = 3;
    return config;
  }

  void SetUp() override {
    Options options;
    options.data_dir = "/group-store-test";
    options.in_memory = true;
    options.background_work = false;
    auto db = storage::StorageDb::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(registry_.Load(*db_).ok());
    storage::WriterConfig config;
    config.clock = clock_;
    config.dead_letter_topic_config.partitions = 1;
    writer_ = std::make_unique<storage::LogWriter>(*db_, registry_, notifier_, config);
    writer_->Start();
    store_ = std::make_unique<GroupStore>(db_.get(), writer_.get(), kTopic, "mailer");

    state_.InitCursors({0});
    Effects effects;
    ASSERT_TRUE(state_.Join("m1", 10, effects).ok());
  }

  void TearDown() override {
    if (writer_) writer_->Stop();
    writer_.reset();
    db_.reset();
  }

  // Leases offsets 0 and 1 to m1 (one lease run from offset 0) and writes that.
  void LeaseTwo() {
    log_.Append(0, std::nullopt);
    log_.Append(0, std::nullopt);
    std::vector<Delivery> out;
    Effects effects;
    ASSERT_TRUE(state_.Select("m1", 2, kStart, log_, out, effects).ok());
    ASSERT_EQ(out.size(), 2u);
    ASSERT_TRUE(Ship().ok());
  }

  // Ships the state's changes and waits for the write.
  Status Ship() {
    std::promise<Status> written;
    store_->Ship(
        state_, Durability::kSync, [&written](const Status& s) { written.set_value(s); },
        [](const Changes&) { ADD_FAILURE() << "a group write failed"; });
    return written.get_future().get();
  }

  // m1 rejects offset 0: the job of its dead-letter write.
  DeadLetterJob Reject() {
    Effects effects;
    EXPECT_TRUE(state_
                    .Reject("m1", PartitionId(0), Offset(0), 1, "poison", kStart + seconds(1),
                            log_, effects)
                    .ok());
    EXPECT_EQ(effects.dead_letters.size(), 1u);
    return effects.dead_letters.empty() ? DeadLetterJob{} : effects.dead_letters[0];
  }

  // Queues the dead-letter write of `job`, as Group::StartDeadLetterWrite does; the future holds
  // its outcome.
  std::future<Result<std::vector<PublishResult>>> QueueDeadLetter(const DeadLetterJob& job) {
    auto written = std::make_shared<std::promise<Result<std::vector<PublishResult>>>>();
    auto future = written->get_future();
    storage::AppendRequest request = store_->DeadLetterRequest(
        state_, job, "orders", "orders.mailer.dlq", Durability::kSync);
    request.done = [written](Result<std::vector<PublishResult>> r) {
      written->set_value(std::move(r));
    };
    EXPECT_TRUE(writer_->Append(std::move(request)).ok());
    state_.DeadLetterQueued(job.partition, job.offset);
    return future;
  }

  // The group record under `key` as a restart would read it, if there is one.
  std::optional<std::string> Stored(const std::string& key) {
    std::string value;
    rocksdb::Status s = db_->db()->Get({}, db_->groups(), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }
  // Whether the stored lease run from offset 0 still stands for `offset` (a restart would load
  // it as leased).
  bool RunHolds(uint64_t offset) {
    auto value = Stored(LeaseRunKey(kTopic, "mailer", PartitionId(0), Offset(0)));
    if (!value) return false;
    LeaseRunRecord run;
    EXPECT_TRUE(DecodeLeaseRunRecord(*value, run));
    return offset < run.released.size() && !run.released[offset];
  }

  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  std::unique_ptr<storage::StorageDb> db_;
  storage::TopicRegistry registry_;
  storage::AppendNotifier notifier_;
  std::unique_ptr<storage::LogWriter> writer_;
  std::unique_ptr<GroupStore> store_;
  MemoryLog log_;
  GroupState state_;
};

// Seed 100732 of the simulation (issue 15): a group write that failed gave its changes back after
// the message's dead-letter write was queued; the next group write, queued after that one, put
// the message's record back after the dead-letter write had deleted it. Closed before another
// write, the broker reloaded the message as unsettled next to its dead letter, and dead-lettered
// it a second time.
TEST_F(GroupStoreTest, AGroupWriteAfterADeadLetterWriteNeverPutsTheMessageBack) {
  ASSERT_NO_FATAL_FAILURE(LeaseTwo());
  const DeadLetterJob job = Reject();
  // The write Group::Apply ships before the dead-letter write (the rejected message's own record
  // among its changes) fails; the writer reports that only after the dead-letter write is queued.
  const Changes failed = state_.TakeChanges();
  auto dead_letter = QueueDeadLetter(job);
  store_->Restore(state_, failed);
  // The next group write (a timer's, say) is queued after the dead-letter write.
  std::promise<Status> next;
  store_->Ship(
      state_, Durability::kSync, [&next](const Status& s) { next.set_value(s); },
      [](const Changes&) { ADD_FAILURE() << "a group write failed"; });
  auto letter = dead_letter.get();
  ASSERT_TRUE(letter.ok()) << letter.status().ToString();
  ASSERT_TRUE(next.get_future().get().ok());
  Effects effects;
  state_.FinishDeadLetter(0, 0, job.dead, letter->at(0).offset.value(), kStart + seconds(1),
                          effects);
  // (The broker closes here, before any other write.)

  EXPECT_FALSE(Stored(MessageKey(kTopic, "mailer", PartitionId(0), Offset(0))))
      << "the message's record is back after its dead-letter write deleted it";
  EXPECT_FALSE(RunHolds(0));
  EXPECT_TRUE(Stored(DeadKey(kTopic, "mailer", letter->at(0).offset)));
  EXPECT_TRUE(RunHolds(1));  // still leased
}

// The group write that took the rejected message out of its lease run failed, and nothing else
// was written before the broker closed: the dead-letter write alone must leave the run without
// it, or a restart loads the message as leased again (and dead-letters it twice).
TEST_F(GroupStoreTest, ADeadLetterWriteTakesTheMessageOutOfItsLeaseRun) {
  ASSERT_NO_FATAL_FAILURE(LeaseTwo());
  const DeadLetterJob job = Reject();
  ASSERT_EQ(job.run, std::optional<uint64_t>(0));
  const Changes failed = state_.TakeChanges();  // the run's release: lost with its write
  auto letter = QueueDeadLetter(job).get();
  ASSERT_TRUE(letter.ok()) << letter.status().ToString();
  store_->Restore(state_, failed);  // given back, but the broker closes before the next write

  EXPECT_FALSE(RunHolds(0)) << "a restart would load the dead-lettered message as leased";
  EXPECT_FALSE(Stored(MessageKey(kTopic, "mailer", PartitionId(0), Offset(0))));
  EXPECT_TRUE(RunHolds(1));
}

// A dead-letter write that fails leaves the message to the group's writes again: its record (now
// delayed, to be dead-lettered again when due) is the next write's.
TEST_F(GroupStoreTest, AFailedDeadLetterWriteGivesTheRecordBackToGroupWrites) {
  ASSERT_NO_FATAL_FAILURE(LeaseTwo());
  const DeadLetterJob job = Reject();
  ASSERT_TRUE(Ship().ok());
  state_.DeadLetterQueued(job.partition, job.offset);
  Effects effects;
  state_.FinishDeadLetter(0, 0, job.dead, std::nullopt, kStart + seconds(1), effects);
  ASSERT_TRUE(Ship().ok());

  auto value = Stored(MessageKey(kTopic, "mailer", PartitionId(0), Offset(0)));
  ASSERT_TRUE(value);
  MessageRecord record;
  ASSERT_TRUE(DecodeMessageRecord(*value, record));
  EXPECT_EQ(record.state, EntryState::kDelayed);
  EXPECT_EQ(record.attempts, 1u);
}

}  // namespace
}  // namespace broker::delivery
