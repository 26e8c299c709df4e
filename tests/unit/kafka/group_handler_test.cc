// The group APIs through RequestHandler on a real in-memory engine: the wire forms of JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, and OffsetCommit/OffsetFetch moving the
// engine group's ack floor; bad requests get Kafka's error codes and change nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "broker/broker.h"
#include "broker/testing/fake_clock.h"
#include "kafka/handler.h"
#include "kafka_test_util.h"

namespace broker::kafka {
namespace {

using testing::Call;
using testing::Parse;
using testing::RequestFrame;
using testing::Response;

constexpr char kTopic[] = "orders";
constexpr char kGroup[] = "billing";

std::string Subscription(const std::vector<std::string>& topics) {
  Writer w;
  w.Int16(0);
  w.Int32(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) w.String(t);
  w.NullableBytes(std::nullopt);
  return w.Take();
}

struct Joined {
  int16_t error = 0;
  int32_t generation = -1;
  std::string protocol;
  std::string leader;
  std::string member_id;
  size_t members = 0;
};

class GroupHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open();
    ASSERT_TRUE(broker_->CreateTopic(kTopic, TopicConfig{.partitions = 2}).ok());
    for (uint32_t p = 0; p < 2; ++p) {
      for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(
            broker_->Publish(kTopic, Message{.payload = "m"}, {.partition = PartitionId(p)}).ok());
      }
    }
  }

  void TearDown() override {
    handler_.reset();
    broker_.reset();
    if (on_disk_) std::filesystem::remove_all(dir_);
  }

  // Opens (again) the broker, in memory or on dir_, and a new handler on it.
  void Open() {
    handler_.reset();
    broker_.reset();
    Options options;
    options.in_memory = !on_disk_;
    options.background_work = false;
    options.data_dir = on_disk_ ? dir_.string() : "kafka-group-handler-test";
    options.clock = clock_;
    auto opened = Broker::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    broker_ = std::move(opened).value();
    handler_ = std::make_unique<RequestHandler>(
        *broker_, HandlerConfig{.advertised_port = 19092, .clock = clock_});
  }

  Joined Join(const std::string& member_id, const std::string& group = kGroup,
              int16_t version = 5) {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kJoinGroup, version, 1, [&](Writer& w) {
          w.String(group);
          w.Int32(10000);
          if (version >= 1) w.Int32(30000);
          w.String(member_id);
          if (version >= 5) w.NullableString(std::nullopt);
          w.String("consumer");
          w.Int32(1);
          w.String("range");
          const std::string metadata = Subscription({kTopic});
          w.NullableBytes(std::string_view(metadata));
        })));
    Reader r(response.body);
    if (version >= 2) r.Int32();  // throttle
    Joined out;
    out.error = r.Int16();
    out.generation = r.Int32();
    out.protocol = r.String();
    out.leader = r.String();
    out.member_id = r.String();
    const int32_t n = r.Int32();
    for (int32_t i = 0; i < n; ++i) {
      r.String();
      if (version >= 5) r.NullableString();
      r.NullableBytes();
    }
    out.members = static_cast<size_t>(n);
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.remaining(), 0u);
    return out;
  }

  std::pair<int16_t, std::string> Sync(int32_t generation, const std::string& member,
                                       const std::string& assignment) {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kSyncGroup, 3, 2, [&](Writer& w) {
          w.String(kGroup);
          w.Int32(generation);
          w.String(member);
          w.NullableString(std::nullopt);
          w.Int32(1);
          w.String(member);
          w.NullableBytes(std::string_view(assignment));
        })));
    Reader r(response.body);
    r.Int32();
    const int16_t error = r.Int16();
    const std::string got(r.NullableBytes().value_or(""));
    EXPECT_EQ(r.remaining(), 0u);
    return {error, got};
  }

  int16_t Heartbeat(int32_t generation, const std::string& member) {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kHeartbeat, 3, 3, [&](Writer& w) {
          w.String(kGroup);
          w.Int32(generation);
          w.String(member);
          w.NullableString(std::nullopt);
        })));
    Reader r(response.body);
    r.Int32();
    return r.Int16();
  }

  // OffsetCommit v7 of one partition; its error.
  int16_t Commit(int32_t generation, const std::string& member, int32_t partition, int64_t offset,
                 const std::optional<std::string>& metadata = std::nullopt,
                 const std::string& topic = kTopic, const std::string& group = kGroup) {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kOffsetCommit, 7, 4, [&](Writer& w) {
          w.String(group);
          w.Int32(generation);
          w.String(member);
          w.NullableString(std::nullopt);
          w.Int32(1);
          w.String(topic);
          w.Int32(1);
          w.Int32(partition);
          w.Int64(offset);
          w.Int32(-1);
          w.NullableString(metadata);
        })));
    Reader r(response.body);
    r.Int32();
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.String(), topic);
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.Int32(), partition);
    const int16_t error = r.Int16();
    EXPECT_EQ(r.remaining(), 0u);
    return error;
  }

  // OffsetFetch v5 of both partitions: (offset, metadata) per partition.
  std::vector<std::pair<int64_t, std::string>> Fetch() {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kOffsetFetch, 5, 5, [&](Writer& w) {
          w.String(kGroup);
          w.Int32(1);
          w.String(kTopic);
          w.Int32(2);
          w.Int32(0);
          w.Int32(1);
        })));
    Reader r(response.body);
    r.Int32();
    EXPECT_EQ(r.Int32(), 1);
    r.String();
    std::vector<std::pair<int64_t, std::string>> out;
    const int32_t n = r.Int32();
    for (int32_t i = 0; i < n; ++i) {
      EXPECT_EQ(r.Int32(), i);
      const int64_t offset = r.Int64();
      r.Int32();  // leader epoch
      const std::string metadata = r.NullableString().value_or("<null>");
      EXPECT_EQ(r.Int16(), 0);
      out.emplace_back(offset, metadata);
    }
    EXPECT_EQ(r.Int16(), 0);
    EXPECT_EQ(r.remaining(), 0u);
    return out;
  }

  std::string DescribeState() {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kDescribeGroups, 4, 6, [&](Writer& w) {
          w.Int32(1);
          w.String(kGroup);
          w.Bool(false);
        })));
    Reader r(response.body);
    r.Int32();
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.Int16(), 0);
    EXPECT_EQ(r.String(), kGroup);
    return r.String();
  }

  // A member of the engine's own API in kGroup (per-partition ordering, as Kafka groups have).
  Result<std::unique_ptr<broker::Subscription>> SubscribeNative() {
    SubscribeOptions options;
    options.member = "native";
    options.group.ordering = Ordering::kPerPartition;
    return broker_->Subscribe(kTopic, kGroup, options);
  }

  uint64_t AckFloor(uint32_t partition) {
    auto info = broker_->DescribeGroup(kTopic, kGroup);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? info->partitions[partition].ack_floor.value() : 0;
  }

  bool on_disk_ = false;
  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("kafka-groups-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::shared_ptr<broker::testing::FakeClock> clock_ =
      std::make_shared<broker::testing::FakeClock>();
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<RequestHandler> handler_;
};

TEST_F(GroupHandlerTest, FindCoordinatorNamesThisNodeForGroups) {
  for (int16_t version : {0, 1, 2}) {
    const Response response =
        Parse(Call(*handler_, RequestFrame(ApiKey::kFindCoordinator, version, 9, [&](Writer& w) {
          w.String(kGroup);
          if (version >= 1) w.Int8(0);
        })));
    Reader r(response.body);
    if (version >= 1) r.Int32();
    EXPECT_EQ(r.Int16(), 0);
    if (version >= 1) r.NullableString();
    EXPECT_EQ(r.Int32(), 1);
    EXPECT_EQ(r.String(), "127.0.0.1");
    EXPECT_EQ(r.Int32(), 19092);
    EXPECT_EQ(r.remaining(), 0u) << "v" << version;
  }
}

TEST_F(GroupHandlerTest, JoinSyncCommitFetchAndLeaveMoveTheEngineGroup) {
  const Joined first = Join("");
  EXPECT_EQ(first.error, Wire(ErrorCode::kMemberIdRequired));
  ASSERT_FALSE(first.member_id.empty());
  const Joined joined = Join(first.member_id);
  ASSERT_EQ(joined.error, 0);
  EXPECT_EQ(joined.generation, 1);
  EXPECT_EQ(joined.leader, first.member_id);
  EXPECT_EQ(joined.protocol, "range");
  EXPECT_EQ(joined.members, 1u);
  const std::string& me = joined.member_id;
  EXPECT_EQ(Sync(1, me, "both-partitions"),
            std::make_pair(int16_t{0}, std::string("both-partitions")));
  EXPECT_EQ(Heartbeat(1, me), 0);
  EXPECT_EQ(DescribeState(), "Stable");

  EXPECT_EQ(Fetch(), (std::vector<std::pair<int64_t, std::string>>{{-1, ""}, {-1, ""}}))
      << "nothing committed";
  EXPECT_FALSE(broker_->DescribeGroup(kTopic, kGroup).ok()) << "no engine group before a commit";

  EXPECT_EQ(Commit(1, me, 0, 3, "meta-3"), 0);
  auto info = broker_->DescribeGroup(kTopic, kGroup);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->config.ordering, Ordering::kPerPartition);
  EXPECT_EQ(AckFloor(0), 3u);
  EXPECT_EQ(AckFloor(1), 0u);
  EXPECT_EQ(info->total.backlog, 7u) << "the lag brokerctl shows";
  EXPECT_EQ(Fetch(), (std::vector<std::pair<int64_t, std::string>>{{3, "meta-3"}, {-1, ""}}))
      << "partition 1 was never committed";

  EXPECT_EQ(Commit(1, me, 0, 1, "seek back"), 0);
  EXPECT_EQ(AckFloor(0), 1u) << "a commit moves the floor back (a seek)";
  EXPECT_EQ(Commit(1, me, 1, 5), 0);
  EXPECT_EQ(AckFloor(1), 5u);
  EXPECT_EQ(Commit(1, me, 1, -2), 0);
  EXPECT_EQ(AckFloor(1), 0u) << "-2 is the earliest offset";
  EXPECT_EQ(Fetch(),
            (std::vector<std::pair<int64_t, std::string>>{{1, "seek back"}, {0, "<null>"}}));

  const Response left =
      Parse(Call(*handler_, RequestFrame(ApiKey::kLeaveGroup, 3, 7, [&](Writer& w) {
        w.String(kGroup);
        w.Int32(1);
        w.String(me);
        w.NullableString(std::nullopt);
      })));
  Reader r(left.body);
  r.Int32();
  EXPECT_EQ(r.Int16(), 0);
  EXPECT_EQ(r.Int32(), 1);
  EXPECT_EQ(r.String(), me);
  r.NullableString();
  EXPECT_EQ(r.Int16(), 0);
  EXPECT_EQ(DescribeState(), "Empty") << "the last member left";
  EXPECT_EQ(Commit(-1, "", 0, 4), 0) << "an empty group takes an admin's commit";
  EXPECT_EQ(AckFloor(0), 4u);
}

TEST_F(GroupHandlerTest, OldMembersMustRejoinAndBadCommitsChangeNothing) {
  const Joined joined = Join("", kGroup, 3);  // v3: a member id at once
  ASSERT_EQ(joined.error, 0);
  ASSERT_EQ(Sync(joined.generation, joined.member_id, "a").first, 0);
  ASSERT_EQ(Commit(joined.generation, joined.member_id, 0, 2), 0);

  EXPECT_EQ(Commit(joined.generation + 1, joined.member_id, 0, 4),
            Wire(ErrorCode::kIllegalGeneration));
  EXPECT_EQ(Commit(joined.generation, "someone-else", 0, 4), Wire(ErrorCode::kUnknownMemberId));
  EXPECT_EQ(Commit(-1, "", 0, 4), Wire(ErrorCode::kUnknownMemberId))
      << "a group with members takes no standalone commit";
  EXPECT_EQ(Commit(joined.generation, joined.member_id, 7, 4),
            Wire(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_EQ(Commit(joined.generation, joined.member_id, 0, 4, std::string(5000, 'x')),
            Wire(ErrorCode::kOffsetMetadataTooLarge));
  EXPECT_EQ(Commit(joined.generation, joined.member_id, 0, 4, std::nullopt, "no-such-topic"),
            Wire(ErrorCode::kUnknownTopicOrPartition));
  EXPECT_EQ(AckFloor(0), 2u) << "nothing moved";
  EXPECT_EQ(Heartbeat(joined.generation + 5, joined.member_id),
            Wire(ErrorCode::kIllegalGeneration));
  EXPECT_EQ(Join("", "bad group!").error, Wire(ErrorCode::kInvalidGroupId));
  EXPECT_EQ(Commit(-1, "", 0, 4, std::nullopt, kTopic, "bad group!"),
            Wire(ErrorCode::kInvalidGroupId));
}

TEST_F(GroupHandlerTest, NativeSubscribersAndKafkaMembersCannotShareAGroup) {
  auto sub = SubscribeNative();
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(Join("").error, Wire(ErrorCode::kInconsistentGroupProtocol));
  EXPECT_EQ(Commit(-1, "", 0, 3), Wire(ErrorCode::kInconsistentGroupProtocol));
  EXPECT_EQ(AckFloor(0), 0u);
  sub->reset();
  EXPECT_EQ(Commit(-1, "", 0, 3), Wire(ErrorCode::kInconsistentGroupProtocol))
      << "the group is still native once its member is gone";
  EXPECT_EQ(Join("").error, Wire(ErrorCode::kInconsistentGroupProtocol));
  EXPECT_EQ(AckFloor(0), 0u);
}

// A native group whose members are away (a deploy) keeps its unsettled messages: a Kafka commit
// under its name (generation -1, as an admin tool sends) would settle them all.
TEST_F(GroupHandlerTest, ACommitDoesNotSettleANativeGroupWhoseMembersAreAway) {
  auto sub = SubscribeNative();
  ASSERT_TRUE(sub.ok());
  auto leased = (*sub)->Poll(1, std::chrono::milliseconds(0));
  ASSERT_TRUE(leased.ok() && leased->size() == 1u);
  const Record& record = leased->front().record;
  ASSERT_TRUE((*sub)->Nack(record.partition, record.offset, std::chrono::hours(1)).ok());
  sub->reset();

  EXPECT_EQ(Commit(-1, "", static_cast<int32_t>(record.partition.value()), 5),
            Wire(ErrorCode::kInconsistentGroupProtocol));
  auto states = broker_->GetMessageState(kTopic, record.partition, record.offset);
  ASSERT_TRUE(states.ok()) << states.status().ToString();
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].status, MessageStatus::kDelayed) << "still waiting for its redelivery";
  EXPECT_EQ(AckFloor(record.partition.value()), 0u);
}

// A group the listener created is recognised by its creation: deleted and created again by a
// native subscriber under the same name, it is native.
TEST_F(GroupHandlerTest, AKafkaGroupRecreatedNativelyIsNative) {
  ASSERT_EQ(Commit(-1, "", 0, 2), 0);
  ASSERT_TRUE(broker_->DeleteGroup(kTopic, kGroup).ok());
  clock_->Advance(std::chrono::seconds(1));
  SubscribeOptions options;
  options.member = "native";
  ASSERT_TRUE(broker_->Subscribe(kTopic, kGroup, options).ok());  // and gone again
  EXPECT_EQ(Commit(-1, "", 0, 3), Wire(ErrorCode::kInconsistentGroupProtocol));
  EXPECT_EQ(AckFloor(0), 0u);
}

TEST_F(GroupHandlerTest, ANotNowOfTheEngineIsRetriableUnlessNativeMembersHoldTheGroup) {
  const Status busy = Status::FailedPrecondition("a dead-letter write is in progress; try again");
  EXPECT_EQ(ResetError(busy, false), ErrorCode::kCoordinatorLoadInProgress);
  EXPECT_EQ(ResetError(busy, true), ErrorCode::kInconsistentGroupProtocol);
  EXPECT_EQ(ResetError(Status::Unavailable("stopped"), false), ErrorCode::kKafkaStorageError);
}

TEST_F(GroupHandlerTest, TruncatedGroupRequestsCloseTheConnection) {
  for (ApiKey key : {ApiKey::kJoinGroup, ApiKey::kSyncGroup, ApiKey::kHeartbeat,
                     ApiKey::kLeaveGroup, ApiKey::kOffsetCommit, ApiKey::kOffsetFetch,
                     ApiKey::kDescribeGroups, ApiKey::kFindCoordinator}) {
    Reply reply = Call(*handler_, RequestFrame(key, 2, 8, [](Writer& w) { w.Int16(3); }));
    EXPECT_EQ(reply.kind, Reply::Kind::kClose) << static_cast<int>(key);
  }
  EXPECT_EQ(Call(*handler_, RequestFrame(ApiKey::kJoinGroup, 6, 8, [](Writer&) {})).kind,
            Reply::Kind::kClose)
      << "JoinGroup v6 (flexible) is not advertised";
}

// The same fixture on a data directory, reopened as brokerd restarts.
class GroupHandlerRestartTest : public GroupHandlerTest {
 protected:
  GroupHandlerRestartTest() { on_disk_ = true; }
};

TEST_F(GroupHandlerRestartTest, WhatWasNeverCommittedAndTheMetadataSurviveARestart) {
  ASSERT_EQ(Commit(-1, "", 0, 3, std::string("checkpoint-a")), 0);
  const std::vector<std::pair<int64_t, std::string>> expected = {{3, "checkpoint-a"}, {-1, ""}};
  ASSERT_EQ(Fetch(), expected) << "partition 1 was never committed";

  Open();
  EXPECT_EQ(Fetch(), expected) << "a consumer with auto.offset.reset=latest must not re-read "
                                  "partition 1 after a restart";
  ASSERT_EQ(Commit(-1, "", 1, 4, std::string("checkpoint-b")), 0);
  ASSERT_EQ(Commit(-1, "", 0, 5, std::string("checkpoint-a")), 0);

  Open();
  EXPECT_EQ(Fetch(), (std::vector<std::pair<int64_t, std::string>>{{5, "checkpoint-a"},
                                                                   {4, "checkpoint-b"}}));
}

}  // namespace
}  // namespace broker::kafka
