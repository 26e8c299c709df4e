// The cap on unsettled messages a partition holds in memory (100,000) bounds what a per_key group
// reads past blocked keys. Before issue 15 it applied to every ordering, so a `none` group with
// 100,000 delayed messages stopped delivering new ones.
#include <gtest/gtest.h>

#include <vector>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

constexpr size_t kCap = 100000;

class UnsettledCapTest : public DeliveryTest {};

TEST_F(UnsettledCapTest, ManyDelayedMessagesDoNotStopNewDeliveriesOfANoneGroup) {
  CreateTopic(kTopic, 1);
  auto sub = Subscribe(kTopic, kGroup, "m1", 2 * kCap);
  const std::vector<Message> batch(10000, Message{.payload = "x"});
  for (size_t i = 0; i < kCap / batch.size(); ++i) Must(broker().PublishBatch(kTopic, batch));
  const std::vector<Delivery> leased = Poll(*sub, kCap);
  ASSERT_EQ(leased.size(), kCap);
  for (const Delivery& d : leased) {
    DELIVERY_ASSERT_OK(sub->Nack(d.record.partition, d.record.offset, seconds(60), "later"));
  }
  ASSERT_EQ(Describe().total.delayed, kCap);

  const PublishResult fresh = Publish(kTopic, "new");
  const std::vector<Delivery> got = Poll(*sub, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.offset, fresh.offset);
}

}  // namespace
}  // namespace broker::testing
