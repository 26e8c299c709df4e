// GroupConfig::serves_requests: requests past their deadline are settled by the broker before
// delivery and counted per group; a request topic auto-created by a responder gets interest
// retention, so answered requests do not accumulate.
#include <gtest/gtest.h>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class ExpiredRequestTest : public DeliveryTest {
 protected:
  static GroupConfig Responder() {
    GroupConfig config = ExactConfig();
    config.serves_requests = true;
    return config;
  }
  Headers DeadlineIn(microseconds from_now) {
    return {{std::string(kRequestDeadlineHeader),
             std::to_string((Now() + from_now).time_since_epoch().count())}};
  }
};

TEST_F(ExpiredRequestTest, ARequestPastItsDeadlineIsNotDeliveredAndIsCounted) {
  CreateTopic(kTopic, 1);
  auto sub = Subscribe(kTopic, kGroup, "m1", 256, Responder());
  Publish(kTopic, "late", std::nullopt, DeadlineIn(seconds(1)));
  const PublishResult live = Publish(kTopic, "live", std::nullopt, DeadlineIn(seconds(60)));
  Publish(kTopic, "no deadline");
  clock_->Advance(seconds(2));  // the first one's deadline passes before anyone polls

  auto got = Poll(*sub);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].record.payload, "live");
  EXPECT_EQ(got[1].record.payload, "no deadline");
  const GroupInfo info = Describe();
  EXPECT_EQ(info.counters.expired_requests, 1u);
  EXPECT_EQ(info.counters.delivered, 2u);
  EXPECT_EQ(info.total.unsettled, 2u);
  EXPECT_EQ(StateIn(kTopic, kGroup, PartitionId(0), Offset(0)).status, MessageStatus::kAcked);

  // A redelivery is checked again: nacked, and its deadline passes during the backoff.
  DELIVERY_ASSERT_OK(sub->Nack(live.partition, live.offset, seconds(120), "try later"));
  Advance(seconds(121));
  EXPECT_TRUE(Poll(*sub).empty());
  EXPECT_EQ(Describe().counters.expired_requests, 2u);
  EXPECT_EQ(StateOf(live).status, MessageStatus::kAcked);
}

TEST_F(ExpiredRequestTest, OtherGroupsAndUnreadableDeadlinesAreDelivered) {
  CreateTopic(kTopic, 1);
  auto plain = Subscribe(kTopic, "plain", "m1");
  auto responder = Subscribe(kTopic, kGroup, "m2", 256, Responder());
  Publish(kTopic, "late", std::nullopt, DeadlineIn(seconds(1)));
  Publish(kTopic, "garbled", std::nullopt,
          {{std::string(kRequestDeadlineHeader), "soon"}});
  clock_->Advance(seconds(2));
  EXPECT_EQ(Poll(*plain).size(), 2u) << "a group that serves no requests sees everything";
  auto got = Poll(*responder);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].record.payload, "garbled") << "the responder decides about those";
}

TEST_F(ExpiredRequestTest, ServesRequestsSurvivesARestart) {
  TempDir dir;
  Options options = TestOptions();
  options.in_memory = false;
  options.data_dir = dir.path();
  Open(options);
  CreateTopic(kTopic, 1);
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, kGroup, Responder()));
  broker_.reset();
  Open(options);
  EXPECT_TRUE(Describe().config.serves_requests);
  broker_.reset();  // before `dir` goes
}

TEST_F(ExpiredRequestTest, AResponderAutoCreatesAnInterestTopicThatEmptiesItself) {
  auto sub = Subscribe("rpc.quote", "quoters", "m1", 256, Responder());
  const TopicInfo topic = Must(broker().DescribeTopic("rpc.quote"));
  EXPECT_EQ(topic.config.retention, RetentionPolicy::kInterest);
  const PublishResult request = Publish("rpc.quote", "price?", std::nullopt, DeadlineIn(seconds(5)));
  const Delivery d = PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Ack(d.record.partition, d.record.offset));
  EXPECT_EQ(Must(broker().RunRetention()), 1u);
  EXPECT_EQ(Must(broker().DescribeTopic("rpc.quote")).partitions[0].first_offset,
            request.offset + 1);
  // An ordinary subscriber still gets the default (limits) configuration.
  auto other = Subscribe("events", "g", "m1");
  EXPECT_EQ(Must(broker().DescribeTopic("events")).config.retention, RetentionPolicy::kLimits);
}

}  // namespace
}  // namespace broker::testing
