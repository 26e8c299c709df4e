// A log record the group cannot read (here: a corrupt batch on disk) is not one retention deleted:
// the message stays unsettled, the error is reported, and once the record reads again the
// message is delivered or dead-lettered as usual. Before issue 15 every such read settled the
// message as "expired".
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rocksdb/iterator.h>

#include "delivery_test_util.h"
#include "storage/keys.h"
#include "storage/storage_db.h"

namespace broker::testing {
namespace {

class ReadErrorTest : public OnDiskDeliveryTest {
 protected:
  // Closes the broker (then drops `subs`), sets the value of the log batch whose base offset is
  // `offset` in partition 0 of kTopic (each Publish here is one batch) to `value`, or cuts it
  // short so it reads as corrupt when `value` is nullopt, and opens the broker again. Returns
  // the batch's previous value.
  std::string ReplaceBatch(uint64_t offset, std::optional<std::string> value,
                           std::vector<std::unique_ptr<Subscription>*> subs = {}) {
    CloseBroker(std::move(subs));
    std::string previous;
    {
      auto db = Must(storage::StorageDb::Open(DiskOptions()));
      std::unique_ptr<rocksdb::Iterator> it(db->db()->NewIterator({}, db->log()));
      std::string key;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        storage::LogKeyParts parts;
        // The first topic (kTopic) has the lowest id; its batches come first.
        if (storage::DecodeLogKey(it->key().ToStringView(), parts) &&
            parts.base_offset == Offset(offset)) {
          key = it->key().ToString();
          previous = it->value().ToString();
          break;
        }
      }
      if (key.empty()) throw std::runtime_error("no batch at offset " + std::to_string(offset));
      const std::string next = value ? *value : previous.substr(0, previous.size() / 2);
      if (!db->db()->Put({}, db->log(), key, next).ok()) throw std::runtime_error("put failed");
    }
    Open(DiskOptions());
    return previous;
  }
};

TEST_F(ReadErrorTest, RedeliveryOfAnUnreadableMessageWaitsUntilItReads) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult broken = Publish(kTopic, "broken");
  const PublishResult fine = Publish(kTopic, "fine");
  ASSERT_EQ(Poll(*sub).size(), 2u);
  const std::string original = ReplaceBatch(broken.offset.value(), std::nullopt, {&sub});
  Advance(seconds(0));  // the leases of the closed broker expire: redelivery after 1 s
  Advance(seconds(1));

  sub = Subscribe(kTopic, kGroup, "m2");
  auto got = Poll(*sub);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.offset, fine.offset);
  // Nothing else can be delivered: the poll says why instead of waiting.
  auto refused = sub->Poll(10, milliseconds(0));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kDataLoss) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("corrupt"), std::string::npos)
      << refused.status().message();

  MessageGroupState state = StateOf(broken);
  EXPECT_EQ(state.status, MessageStatus::kAvailable);
  EXPECT_EQ(state.attempts, 1u);
  GroupInfo info = Describe();
  EXPECT_EQ(info.total.expired, 0u);
  EXPECT_EQ(info.total.unsettled, 2u);

  ReplaceBatch(broken.offset.value(), original, {&sub});
  sub = Subscribe(kTopic, kGroup, "m3");
  Advance(seconds(1));
  const Delivery again = PollOne(*sub);
  EXPECT_EQ(again.record.offset, broken.offset);
  EXPECT_EQ(again.record.payload, "broken");
  EXPECT_EQ(again.attempt, 2u);
}

TEST_F(ReadErrorTest, DeadLetteringAnUnreadableMessageWaitsUntilItReads) {
  GroupConfig config = ExactConfig();
  config.max_deliveries = 1;
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, config);
  const PublishResult pos = Publish(kTopic, "poison");
  ASSERT_EQ(Poll(*sub).size(), 1u);
  const std::string original = ReplaceBatch(pos.offset.value(), std::nullopt, {&sub});
  Advance(seconds(0));  // the lease expires on its last delivery: dead-lettering cannot read it
  Advance(seconds(5));  // tried again: still unreadable

  MessageGroupState state = StateOf(pos);
  EXPECT_EQ(state.status, MessageStatus::kDelayed);
  EXPECT_EQ(state.attempts, 1u);
  GroupInfo info = Describe();
  EXPECT_EQ(info.total.expired, 0u);
  EXPECT_EQ(info.total.unsettled, 1u);
  EXPECT_EQ(info.dlq_depth, 0u);
  EXPECT_EQ(info.counters.delivered, 0u) << "delivered past max_deliveries";

  ReplaceBatch(pos.offset.value(), original);
  Advance(seconds(1));
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);
  auto letters = Must(broker().ListDeadLetters(kTopic, kGroup, 0));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].record.payload, "poison");
  EXPECT_EQ(letters[0].reason, "max_deliveries");
  EXPECT_EQ(Describe().total.unsettled, 0u);
}

TEST_F(ReadErrorTest, RedriveOfAnUnreadableOriginalChangesNothing) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "poison");
  const Delivery d = PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(d.record.partition, d.record.offset, "bad"));
  RunTimers();  // the dead-letter write
  ASSERT_EQ(StateOf(pos).status, MessageStatus::kDead);
  const std::string original = ReplaceBatch(pos.offset.value(), std::nullopt, {&sub});

  auto redriven = broker().Redrive(kTopic, kGroup, RedriveOptions{});
  ASSERT_FALSE(redriven.ok());
  EXPECT_EQ(redriven.status().code(), StatusCode::kDataLoss) << redriven.status().ToString();
  EXPECT_NE(redriven.status().message().find("changed nothing"), std::string::npos);
  EXPECT_EQ(Describe().dlq_depth, 1u);
  EXPECT_EQ(StateOf(pos).status, MessageStatus::kDead);

  ReplaceBatch(pos.offset.value(), original);
  auto retried = broker().Redrive(kTopic, kGroup, RedriveOptions{});
  DELIVERY_ASSERT_OK(retried);
  EXPECT_EQ(retried->redriven, 1u);
  EXPECT_EQ(retried->missing, 0u);
  EXPECT_EQ(Describe().dlq_depth, 0u);
}

}  // namespace
}  // namespace broker::testing
