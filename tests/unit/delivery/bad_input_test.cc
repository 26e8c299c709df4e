// Bad input: settling what is not leased to the caller, unknown groups and topics, bad names,
// invalid configs, duplicate member names. Each gets a clear error code and changes nothing.
#include <gtest/gtest.h>

#include <sstream>

#include "delivery_test_util.h"

namespace broker::testing {
namespace {

class BadInputTest : public DeliveryTest {
 protected:
  BadInputTest() { CreateTopic(kTopic, 2); }

  // Everything observable about the group and the given messages, as text, to compare before and
  // after a rejected call.
  std::string Snapshot(const std::vector<PublishResult>& positions) {
    std::ostringstream out;
    const GroupInfo info = Describe();
    for (const MemberInfo& m : info.members) {
      out << "member " << m.name << " leased " << m.leased << " max " << m.max_in_flight << "\n";
    }
    for (const PartitionLag& p : info.partitions) {
      out << "partition " << p.partition.value() << " end " << p.end_offset.value() << " floor "
          << p.ack_floor.value() << " backlog " << p.backlog << " in_flight " << p.in_flight
          << " delayed " << p.delayed << " unsettled " << p.unsettled << "\n";
    }
    out << "dlq " << info.dlq_depth << "\n";
    for (const PublishResult& pos : positions) {
      const MessageGroupState s = StateOf(pos);
      out << pos.partition.value() << "/" << pos.offset.value() << " "
          << MessageStatusName(s.status) << " attempts " << s.attempts << " by " << s.leased_by
          << " until " << s.lease_expires_at.time_since_epoch().count() << " delayed "
          << s.delayed_until.time_since_epoch().count() << " error " << s.last_error << "\n";
    }
    return out.str();
  }

  // Every settling call on (partition, offset) by `sub` fails with `code`.
  void ExpectAllSettlingFail(Subscription& sub, PartitionId partition, Offset offset,
                             StatusCode code) {
    EXPECT_EQ(sub.Ack(partition, offset).code(), code);
    EXPECT_EQ(sub.Nack(partition, offset, std::nullopt, "e").code(), code);
    EXPECT_EQ(sub.Nack(partition, offset, seconds(1), "e").code(), code);
    EXPECT_EQ(sub.Extend(partition, offset).status().code(), code);
    EXPECT_EQ(sub.Reject(partition, offset, "r").code(), code);
  }
};

TEST_F(BadInputTest, SettlingAnOffsetNeverDelivered) {
  auto sub = Subscribe(kTopic, kGroup, "m1", 1);
  const PublishResult leased = Publish(kTopic, "a", "k");
  const PublishResult waiting = Publish(kTopic, "b", "k");
  PollOne(*sub);
  const std::string before = Snapshot({leased, waiting});
  ExpectAllSettlingFail(*sub, waiting.partition, waiting.offset, StatusCode::kFailedPrecondition);
  ExpectAllSettlingFail(*sub, waiting.partition, Offset(999), StatusCode::kFailedPrecondition);
  RunTimers();
  EXPECT_EQ(Snapshot({leased, waiting}), before);
  EXPECT_EQ(Describe().dlq_depth, 0u);
}

TEST_F(BadInputTest, SettlingAnOffsetLeasedToAnotherMember) {
  auto a = Subscribe(kTopic, kGroup, "a");
  auto b = Subscribe(kTopic, kGroup, "b");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*a);
  const std::string before = Snapshot({pos});
  ExpectAllSettlingFail(*b, pos.partition, pos.offset, StatusCode::kFailedPrecondition);
  RunTimers();
  EXPECT_EQ(Snapshot({pos}), before);
  EXPECT_EQ(StateOf(pos).leased_by, "a");
  DELIVERY_EXPECT_OK(a->Ack(pos.partition, pos.offset));  // the holder still can
}

TEST_F(BadInputTest, SecondAckAndSettlingAfterAck) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Ack(pos.partition, pos.offset));
  RunTimers();
  const std::string before = Snapshot({pos});
  ExpectAllSettlingFail(*sub, pos.partition, pos.offset, StatusCode::kFailedPrecondition);
  RunTimers();
  EXPECT_EQ(Snapshot({pos}), before);
}

TEST_F(BadInputTest, SettlingADelayedMessage) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Nack(pos.partition, pos.offset, seconds(5), "later"));
  const std::string before = Snapshot({pos});
  ExpectAllSettlingFail(*sub, pos.partition, pos.offset, StatusCode::kFailedPrecondition);
  EXPECT_EQ(Snapshot({pos}), before);
}

TEST_F(BadInputTest, SettlingADeadMessage) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  DELIVERY_ASSERT_OK(sub->Reject(pos.partition, pos.offset, "bad"));
  RunTimers();
  const std::string before = Snapshot({pos});
  ExpectAllSettlingFail(*sub, pos.partition, pos.offset, StatusCode::kFailedPrecondition);
  RunTimers();
  EXPECT_EQ(Snapshot({pos}), before);
  EXPECT_EQ(Must(broker().ListDeadLetters(kTopic, kGroup, 0)).size(), 1u);
}

TEST_F(BadInputTest, PartitionOutOfRange) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  const std::string before = Snapshot({pos});
  ExpectAllSettlingFail(*sub, PartitionId(2), Offset(0), StatusCode::kInvalidArgument);
  EXPECT_EQ(Snapshot({pos}), before);
}

TEST_F(BadInputTest, UnknownGroup) {
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, kGroup, ExactConfig()));
  const std::string before = Snapshot({});
  EXPECT_EQ(broker().DescribeGroup(kTopic, "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().DeleteGroup(kTopic, "nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().ListDeadLetters(kTopic, "nope", 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().Redrive(kTopic, "nope", {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().PurgeDeadLetters(kTopic, "nope", {}).status().code(), StatusCode::kNotFound);
  // A group of another topic is not found under this one.
  CreateTopic("other", 1);
  EXPECT_EQ(broker().DescribeGroup("other", kGroup).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Must(broker().ListGroups("")).size(), 1u);
  EXPECT_EQ(Snapshot({}), before);
}

TEST_F(BadInputTest, UnknownTopic) {
  EXPECT_EQ(broker().CreateGroup("nope", kGroup, {}).code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().DescribeGroup("nope", kGroup).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().ListGroups("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().DeleteGroup("nope", kGroup).code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().ListDeadLetters("nope", kGroup, 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().Redrive("nope", kGroup, {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().PurgeDeadLetters("nope", kGroup, {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().DescribeTopic("nope").status().code(), StatusCode::kNotFound)
      << "no call above may create the topic";
  EXPECT_TRUE(Must(broker().ListGroups("")).empty());
}

TEST_F(BadInputTest, SubscribeToUnknownTopicWithAutoCreateOff) {
  Options options = TestOptions();
  options.auto_create_topics = false;
  Open(options);
  SubscribeOptions sub_options;
  sub_options.member = "m1";
  EXPECT_EQ(broker().Subscribe("nope", kGroup, sub_options).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(broker().DescribeTopic("nope").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Must(broker().ListGroups("")).empty());
}

TEST_F(BadInputTest, BadGroupNames) {
  const std::string too_long(101, 'g');
  const std::vector<std::string> bad = {"", "has space", "a/b", "tab\t", "ünï", too_long};
  for (const std::string& name : bad) {
    SCOPED_TRACE("group '" + name + "'");
    EXPECT_EQ(broker().CreateGroup(kTopic, name, {}).code(), StatusCode::kInvalidArgument);
    SubscribeOptions options;
    options.member = "m1";
    EXPECT_EQ(broker().Subscribe(kTopic, name, options).status().code(),
              StatusCode::kInvalidArgument);
  }
  // The dead-letter topic "<topic>.<group>.dlq" must be a valid topic name (at most 200).
  const std::string long_topic(190, 't');
  CreateTopic(long_topic, 1);
  EXPECT_EQ(broker().CreateGroup(long_topic, "group-ten-", {}).code(),
            StatusCode::kInvalidArgument);  // 190 + 1 + 10 + 4 = 205
  DELIVERY_EXPECT_OK(broker().CreateGroup(long_topic, "g1234", {}));  // 190 + 1 + 5 + 4 = 200
  EXPECT_EQ(Must(broker().ListGroups("")).size(), 1u);
  // The longest valid name.
  DELIVERY_EXPECT_OK(broker().CreateGroup(kTopic, std::string(100, 'g'), {}));
}

TEST_F(BadInputTest, BadTopicNames) {
  for (const std::string& topic : {std::string(""), std::string("a b"), std::string(201, 't')}) {
    SCOPED_TRACE("topic '" + topic + "'");
    EXPECT_EQ(broker().CreateGroup(topic, kGroup, {}).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(broker().DescribeGroup(topic, kGroup).status().code(), StatusCode::kInvalidArgument);
    SubscribeOptions options;
    options.member = "m1";
    EXPECT_EQ(broker().Subscribe(topic, kGroup, options).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Must(broker().ListTopics()).size(), 1u);
}

TEST_F(BadInputTest, InvalidGroupConfig) {
  std::vector<std::pair<std::string, GroupConfig>> bad;
  auto add = [&bad](std::string what, auto change) {
    GroupConfig config;
    change(config);
    bad.emplace_back(std::move(what), config);
  };
  add("max_deliveries 0", [](GroupConfig& c) { c.max_deliveries = 0; });
  add("ack_timeout 0", [](GroupConfig& c) { c.ack_timeout = milliseconds(0); });
  add("ack_timeout negative", [](GroupConfig& c) { c.ack_timeout = milliseconds(-5); });
  add("initial negative", [](GroupConfig& c) { c.backoff.initial = milliseconds(-1); });
  add("max below initial", [](GroupConfig& c) {
    c.backoff.initial = seconds(10);
    c.backoff.max = seconds(5);
  });
  add("multiplier below 1", [](GroupConfig& c) { c.backoff.multiplier = 0.5; });
  add("jitter negative", [](GroupConfig& c) { c.backoff.jitter = -0.1; });
  add("jitter above 1", [](GroupConfig& c) { c.backoff.jitter = 1.5; });
  for (const auto& [what, config] : bad) {
    SCOPED_TRACE(what);
    const Status created = broker().CreateGroup(kTopic, kGroup, config);
    EXPECT_EQ(created.code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(created.message().empty());
    SubscribeOptions options;
    options.member = "m1";
    options.group = config;
    EXPECT_EQ(broker().Subscribe(kTopic, kGroup, options).status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(broker().DescribeGroup(kTopic, kGroup).status().code(), StatusCode::kNotFound);
  }
  // Edges that are valid.
  GroupConfig edge;
  edge.backoff = {.initial = milliseconds(0), .multiplier = 1, .max = milliseconds(0), .jitter = 1};
  edge.max_deliveries = 1;
  edge.ack_timeout = milliseconds(1);
  DELIVERY_EXPECT_OK(broker().CreateGroup(kTopic, kGroup, edge));
}

TEST_F(BadInputTest, SubscribingTwiceWithOneMemberName) {
  auto first = Subscribe(kTopic, kGroup, "m1", 3);
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*first);
  const std::string before = Snapshot({pos});
  SubscribeOptions options;
  options.member = "m1";
  auto second = broker().Subscribe(kTopic, kGroup, options);
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(second.status().message().find("m1"), std::string::npos)
      << second.status().message();
  EXPECT_EQ(Snapshot({pos}), before) << "the failed subscribe must not touch the member's leases";
  DELIVERY_EXPECT_OK(first->Ack(pos.partition, pos.offset));
}

TEST_F(BadInputTest, OverlongMemberName) {
  DELIVERY_ASSERT_OK(broker().CreateGroup(kTopic, kGroup, ExactConfig()));
  SubscribeOptions options;
  options.member = std::string(201, 'm');
  EXPECT_EQ(broker().Subscribe(kTopic, kGroup, options).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(Describe().members.empty());
}

TEST_F(BadInputTest, SubscriptionOutlivingTheBrokerFailsCleanly) {
  auto sub = Subscribe(kTopic, kGroup, "m1");
  const PublishResult pos = Publish(kTopic, "x");
  PollOne(*sub);
  broker_.reset();
  EXPECT_EQ(sub->Poll(10, milliseconds(0)).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(sub->Ack(pos.partition, pos.offset).code(), StatusCode::kUnavailable);
  sub.reset();  // leaving a closed group must not touch the closed broker
}

}  // namespace
}  // namespace broker::testing
