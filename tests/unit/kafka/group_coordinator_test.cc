// GroupCoordinator without sockets or an engine, on a FakeClock: joins with MEMBER_ID_REQUIRED,
// rebalances on join and leave, SyncGroup answered in any order, heartbeats, session and rebalance
// timeouts, and the error codes Apache Kafka's coordinator answers.
#include "kafka/group_coordinator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "broker/testing/fake_clock.h"

namespace broker::kafka {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kGroup[] = "billing";

// A JoinGroup or SyncGroup answer that may come later.
template <typename T>
struct Pending {
  std::shared_ptr<std::optional<T>> value = std::make_shared<std::optional<T>>();
  bool done() const { return value->has_value(); }
  const T& get() const {
    EXPECT_TRUE(done());
    return **value;
  }
  std::function<void(T)> Callback() const {
    return [v = value](T t) {
      EXPECT_FALSE(v->has_value()) << "answered twice";
      *v = std::move(t);
    };
  }
};

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  JoinArgs Args(const std::string& member_id, const std::string& metadata = "m",
                milliseconds session = seconds(10), milliseconds rebalance = seconds(30)) {
    JoinArgs args;
    args.group = kGroup;
    args.member_id = member_id;
    args.client_id = "client";
    args.session_timeout = session;
    args.rebalance_timeout = rebalance;
    args.protocol_type = "consumer";
    args.protocols = {{"range", metadata}, {"roundrobin", metadata}};
    args.require_known_member = true;
    return args;
  }

  Pending<JoinOutcome> Join(JoinArgs args) {
    Pending<JoinOutcome> p;
    coordinator_.Join(std::move(args), p.Callback());
    return p;
  }

  // A new member: MEMBER_ID_REQUIRED, then the join with the id it was given (which may wait).
  Pending<JoinOutcome> JoinNew(std::string* member_id) {
    Pending<JoinOutcome> first = Join(Args(""));
    EXPECT_EQ(first.get().error, ErrorCode::kMemberIdRequired);
    EXPECT_FALSE(first.get().member_id.empty());
    *member_id = first.get().member_id;
    return Join(Args(*member_id));
  }

  Pending<SyncOutcome> Sync(int32_t generation, const std::string& member,
                            std::vector<std::pair<std::string, std::string>> assignments = {}) {
    Pending<SyncOutcome> p;
    coordinator_.Sync(kGroup, generation, member, assignments, p.Callback());
    return p;
  }

  // One member joined and synced: Stable at the returned generation.
  int32_t StableWithOne(std::string* member) {
    Pending<JoinOutcome> join = JoinNew(member);
    EXPECT_TRUE(join.done());
    const int32_t generation = join.get().generation;
    EXPECT_EQ(Sync(generation, *member, {{*member, "all"}}).get().error, ErrorCode::kNone);
    return generation;
  }

  // `a` stable alone, then `b` joins and `a` rejoins: the rebalance waits for the syncs of the
  // returned generation.
  int32_t TwoJoined(std::string* a, std::string* b) {
    StableWithOne(a);
    Pending<JoinOutcome> join_b = JoinNew(b);
    Join(Args(*a));
    EXPECT_TRUE(join_b.done());
    return join_b.get().generation;
  }

  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  GroupCoordinator coordinator_{clock_, CoordinatorConfig{}};
};

TEST_F(GroupCoordinatorTest, FirstMemberGetsAnIdThenLeadsGenerationOne) {
  std::string a;
  Pending<JoinOutcome> join = JoinNew(&a);
  ASSERT_TRUE(join.done()) << "the only member completes the rebalance at once";
  EXPECT_EQ(join.get().error, ErrorCode::kNone);
  EXPECT_EQ(join.get().generation, 1);
  EXPECT_EQ(join.get().leader, a);
  EXPECT_EQ(join.get().protocol_name, "range");
  ASSERT_EQ(join.get().members.size(), 1u);
  EXPECT_EQ(join.get().members[0].second, "m");
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "CompletingRebalance");

  Pending<SyncOutcome> sync = Sync(1, a, {{a, "partitions-0-1"}});
  ASSERT_TRUE(sync.done());
  EXPECT_EQ(sync.get().assignment, "partitions-0-1");
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "Stable");
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, 1, a), ErrorCode::kNone);
}

TEST_F(GroupCoordinatorTest, UnknownMemberIdsAndOldGenerationsAreRefused) {
  std::string a;
  const int32_t generation = StableWithOne(&a);
  EXPECT_EQ(Join(Args("made-up")).get().error, ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, generation, "made-up"), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, generation + 1, a), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(coordinator_.Heartbeat("other", 1, a), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(Sync(generation - 1, a).get().error, ErrorCode::kIllegalGeneration);
  EXPECT_EQ(Sync(generation, "made-up").get().error, ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Leave(kGroup, "made-up"), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.ValidateCommit(kGroup, generation, "made-up"),
            ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.ValidateCommit(kGroup, generation + 1, a), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(coordinator_.ValidateCommit(kGroup, generation, a), ErrorCode::kNone);
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "Stable") << "nothing changed";
}

TEST_F(GroupCoordinatorTest, SessionTimeoutOutsideTheBoundsIsRefused) {
  EXPECT_EQ(Join(Args("", "m", milliseconds(5999))).get().error, ErrorCode::kInvalidSessionTimeout);
  EXPECT_EQ(Join(Args("", "m", milliseconds(1800001))).get().error,
            ErrorCode::kInvalidSessionTimeout);
  JoinArgs empty_group = Args("");
  empty_group.group.clear();
  EXPECT_EQ(Join(empty_group).get().error, ErrorCode::kInvalidGroupId);
}

TEST_F(GroupCoordinatorTest, ASecondMemberRebalancesAndEverySyncIsAnsweredInAnyOrder) {
  std::string a;
  const int32_t gen1 = StableWithOne(&a);
  std::string b;
  Pending<JoinOutcome> join_b = JoinNew(&b);
  EXPECT_FALSE(join_b.done()) << "waits for the current member to rejoin";
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "PreparingRebalance");
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, gen1, a), ErrorCode::kRebalanceInProgress);
  EXPECT_EQ(coordinator_.ValidateCommit(kGroup, gen1, a), ErrorCode::kNone)
      << "a member may commit before it rejoins";

  Pending<JoinOutcome> join_a = Join(Args(a));
  ASSERT_TRUE(join_a.done());
  ASSERT_TRUE(join_b.done());
  const int32_t gen2 = join_a.get().generation;
  EXPECT_EQ(gen2, gen1 + 1);
  EXPECT_EQ(join_b.get().generation, gen2);
  EXPECT_EQ(join_a.get().leader, a) << "the leader stays";
  EXPECT_EQ(join_a.get().members.size(), 2u);
  EXPECT_TRUE(join_b.get().members.empty()) << "only the leader gets the member list";
  EXPECT_EQ(coordinator_.ValidateCommit(kGroup, gen2, b), ErrorCode::kRebalanceInProgress);

  // The follower's SyncGroup first: it waits for the leader's, then both get their own.
  Pending<SyncOutcome> sync_b = Sync(gen2, b);
  EXPECT_FALSE(sync_b.done());
  Pending<SyncOutcome> sync_a = Sync(gen2, a, {{a, "p0"}, {b, "p1"}});
  ASSERT_TRUE(sync_a.done());
  ASSERT_TRUE(sync_b.done());
  EXPECT_EQ(sync_a.get().assignment, "p0");
  EXPECT_EQ(sync_b.get().assignment, "p1");
  // A late repeat is answered from the stable generation.
  EXPECT_EQ(Sync(gen2, b).get().assignment, "p1");

  GroupDescription d = coordinator_.Describe(kGroup);
  EXPECT_EQ(d.state, "Stable");
  EXPECT_EQ(d.protocol_type, "consumer");
  ASSERT_EQ(d.members.size(), 2u);
}

TEST_F(GroupCoordinatorTest, AKnownFollowerRejoiningUnchangedGetsTheCurrentGeneration) {
  std::string a, b;
  const int32_t gen = TwoJoined(&a, &b);
  Sync(gen, a, {{a, "p0"}, {b, "p1"}});
  Pending<JoinOutcome> again = Join(Args(b));
  ASSERT_TRUE(again.done());
  EXPECT_EQ(again.get().generation, gen);
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "Stable");
  // Changed metadata starts a rebalance.
  Pending<JoinOutcome> changed = Join(Args(b, "other-topics"));
  EXPECT_FALSE(changed.done());
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "PreparingRebalance");
}

TEST_F(GroupCoordinatorTest, LeavingRemovesAtOnceAndTheLastLeaverEmptiesTheGroup) {
  std::string a, b;
  const int32_t gen = TwoJoined(&a, &b);
  Sync(gen, a, {{a, "p0"}, {b, "p1"}});

  EXPECT_EQ(coordinator_.Leave(kGroup, b), ErrorCode::kNone);
  EXPECT_EQ(coordinator_.Describe(kGroup).members.size(), 1u) << "removed at once";
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, gen, a), ErrorCode::kRebalanceInProgress);
  Pending<JoinOutcome> rejoin = Join(Args(a));
  ASSERT_TRUE(rejoin.done()) << "the one member left completes the rebalance";
  EXPECT_EQ(rejoin.get().generation, gen + 1);

  EXPECT_EQ(coordinator_.Leave(kGroup, a), ErrorCode::kNone);
  GroupDescription d = coordinator_.Describe(kGroup);
  EXPECT_EQ(d.state, "Dead") << "forgotten (DescribeGroups answers Empty if it committed)";
  EXPECT_TRUE(d.members.empty());
  EXPECT_EQ(coordinator_.ValidateCommit(kGroup, -1, ""), ErrorCode::kNone)
      << "an empty group takes standalone commits (kafkajs setOffsets)";
  EXPECT_EQ(coordinator_.ValidateCommit(kGroup, gen + 1, a), ErrorCode::kIllegalGeneration);
  std::string c;
  ASSERT_TRUE(JoinNew(&c).done()) << "a join starts the group again";
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "CompletingRebalance");
}

TEST_F(GroupCoordinatorTest, ARefusedJoinLeavesNoGroupBehind) {
  JoinArgs no_protocols = Args("");
  no_protocols.protocols.clear();
  EXPECT_EQ(Join(no_protocols).get().error, ErrorCode::kInconsistentGroupProtocol);
  EXPECT_EQ(Join(Args("made-up-member")).get().error, ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "Dead");
}

TEST_F(GroupCoordinatorTest, GroupsLeftWithoutMembersAreForgotten) {
  // Members whose sessions time out, and ids handed out but never used, leave nothing behind.
  for (int i = 0; i < 50; ++i) {
    JoinArgs args = Args("");
    args.group = "group-" + std::to_string(i);
    Pending<JoinOutcome> first = Join(args);
    ASSERT_EQ(first.get().error, ErrorCode::kMemberIdRequired);
    if (i % 2 == 0) {
      args.member_id = first.get().member_id;
      ASSERT_TRUE(Join(args).done());
    }
  }
  EXPECT_EQ(coordinator_.Describe("group-0").state, "CompletingRebalance");
  EXPECT_EQ(coordinator_.Describe("group-1").state, "Empty") << "an id handed out, nobody joined";
  clock_->Advance(seconds(10));
  coordinator_.Tick();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(coordinator_.Describe("group-" + std::to_string(i)).state, "Dead") << i;
  }
}

TEST_F(GroupCoordinatorTest, AWaitingSyncOfALeavingMemberIsAnswered) {
  std::string a, b;
  const int32_t gen = TwoJoined(&a, &b);
  Pending<SyncOutcome> sync_b = Sync(gen, b);
  ASSERT_FALSE(sync_b.done());
  EXPECT_EQ(coordinator_.Leave(kGroup, a), ErrorCode::kNone) << "the leader leaves before syncing";
  ASSERT_TRUE(sync_b.done());
  EXPECT_EQ(sync_b.get().error, ErrorCode::kRebalanceInProgress);
}

TEST_F(GroupCoordinatorTest, AMemberWithoutHeartbeatsExpiresAfterItsSessionTimeout) {
  std::string a, b;
  const int32_t gen = TwoJoined(&a, &b);
  Sync(gen, a, {{a, "p0"}, {b, "p1"}});
  Sync(gen, b);

  clock_->Advance(seconds(6));
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, gen, a), ErrorCode::kNone);
  coordinator_.Tick();
  EXPECT_EQ(coordinator_.Describe(kGroup).members.size(), 2u) << "b has 4 s left";
  clock_->Advance(seconds(4));
  coordinator_.Tick();
  EXPECT_EQ(coordinator_.Describe(kGroup).members.size(), 1u) << "b's 10 s session ran out";
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, gen, b), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Heartbeat(kGroup, gen, a), ErrorCode::kRebalanceInProgress);
}

TEST_F(GroupCoordinatorTest, MembersNotRejoiningWithinTheRebalanceTimeoutAreRemoved) {
  std::string a, b;
  StableWithOne(&a);
  // a keeps heartbeating but never rejoins (a consumer stuck in its handler).
  Pending<JoinOutcome> join_b = JoinNew(&b);
  for (int i = 0; i < 5; ++i) {
    clock_->Advance(seconds(5));
    coordinator_.Heartbeat(kGroup, 1, a);
    coordinator_.Tick();
    EXPECT_FALSE(join_b.done()) << "after " << (i + 1) * 5 << " s";
  }
  clock_->Advance(seconds(5));  // 30 s: the rebalance timeout
  coordinator_.Tick();
  ASSERT_TRUE(join_b.done());
  EXPECT_EQ(join_b.get().error, ErrorCode::kNone);
  EXPECT_EQ(join_b.get().leader, b);
  EXPECT_EQ(coordinator_.Describe(kGroup).members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, AnUnusedMemberIdExpiresAndNoLongerHoldsTheRebalance) {
  std::string a;
  StableWithOne(&a);
  Pending<JoinOutcome> first = Join(Args(""));
  ASSERT_EQ(first.get().error, ErrorCode::kMemberIdRequired);  // never comes back
  Pending<JoinOutcome> rejoin = Join(Args(a));
  EXPECT_FALSE(rejoin.done()) << "the handed-out id counts as joining";
  clock_->Advance(seconds(10));
  coordinator_.Tick();
  ASSERT_TRUE(rejoin.done());
  EXPECT_EQ(rejoin.get().error, ErrorCode::kNone);
  EXPECT_EQ(Join(Args(first.get().member_id)).get().error, ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, ADifferentProtocolTypeOrNoCommonProtocolIsInconsistent) {
  std::string a;
  StableWithOne(&a);
  JoinArgs other_type = Args("");
  other_type.protocol_type = "connect";
  EXPECT_EQ(Join(other_type).get().error, ErrorCode::kInconsistentGroupProtocol);
  JoinArgs other_protocols = Args("");
  other_protocols.protocols = {{"sticky", "m"}};
  EXPECT_EQ(Join(other_protocols).get().error, ErrorCode::kInconsistentGroupProtocol);
  EXPECT_EQ(coordinator_.Describe(kGroup).state, "Stable");
}

TEST_F(GroupCoordinatorTest, OldJoinVersionsGetAMemberIdAtOnce) {
  JoinArgs v3 = Args("");
  v3.require_known_member = false;
  Pending<JoinOutcome> join = Join(v3);
  ASSERT_TRUE(join.done());
  EXPECT_EQ(join.get().error, ErrorCode::kNone);
  EXPECT_EQ(join.get().leader, join.get().member_id);
}

TEST_F(GroupCoordinatorTest, CommitsOfAnUnknownGroupNeedGenerationMinusOne) {
  EXPECT_EQ(coordinator_.ValidateCommit("fresh", -1, ""), ErrorCode::kNone);
  EXPECT_EQ(coordinator_.ValidateCommit("fresh", 3, "m-1"), ErrorCode::kIllegalGeneration)
      << "a member of a generation this broker does not know (it restarted) must rejoin";
  EXPECT_EQ(coordinator_.Describe("fresh").state, "Dead");
}

TEST_F(GroupCoordinatorTest, ShutdownAnswersWaitingRequestsAndLaterOnesAtOnce) {
  std::string a, b;
  StableWithOne(&a);
  Pending<JoinOutcome> join_b = JoinNew(&b);
  ASSERT_FALSE(join_b.done());
  coordinator_.Shutdown();
  ASSERT_TRUE(join_b.done());
  EXPECT_EQ(join_b.get().error, ErrorCode::kNotCoordinator);
  EXPECT_EQ(Join(Args("")).get().error, ErrorCode::kNotCoordinator);
  EXPECT_EQ(Sync(1, a).get().error, ErrorCode::kNotCoordinator);
}

// Members on their own threads join, sync, heartbeat, leave and tick over and over:
// every JoinGroup and SyncGroup is answered (a rebalance never waits for a member that is gone),
// and the group ends forgotten. Also run under TSan (the tsan preset builds kafka_unit_tests).
TEST_F(GroupCoordinatorTest, ConcurrentMembersAreAllAnsweredAndTheGroupIsForgotten) {
  constexpr int kMembers = 4;
  constexpr int kRounds = 30;
  // Generous: an answer that never comes fails the test instead of hanging it.
  constexpr auto kAnswerWithin = std::chrono::seconds(60);
  std::atomic<int> stable_rounds{0};
  std::atomic<int> unanswered{0};
  constexpr int kMaxRejoins = 10000;
  std::atomic<int> unsettled{0};  // members that rejoined kMaxRejoins times without a sync
  auto new_member_id = [&] {
    std::promise<JoinOutcome> first;
    coordinator_.Join(Args(""), [&first](JoinOutcome o) { first.set_value(std::move(o)); });
    return first.get_future().get().member_id;
  };
  auto member = [&] {
    for (int round = 0; round < kRounds; ++round) {
      std::string id = new_member_id();
      // Rejoin until a generation completes with this member synced in it. A member id the
      // group no longer knows (it was given out while the group emptied and was forgotten) is
      // replaced by a new one, as Kafka clients do on UNKNOWN_MEMBER_ID; a bound on the rejoins
      // fails the test instead of spinning if the group never settles.
      bool synced = false;
      for (int rejoins = 0; !synced; ++rejoins) {
        if (rejoins == kMaxRejoins) {
          ++unsettled;
          return;
        }
        std::promise<JoinOutcome> joined;
        coordinator_.Join(Args(id), [&joined](JoinOutcome o) { joined.set_value(std::move(o)); });
        auto join_future = joined.get_future();
        if (join_future.wait_for(kAnswerWithin) != std::future_status::ready) {
          ++unanswered;
          return;
        }
        const JoinOutcome j = join_future.get();
        if (j.error == ErrorCode::kUnknownMemberId) id = new_member_id();
        if (j.error != ErrorCode::kNone) continue;
        std::vector<std::pair<std::string, std::string>> assignments;
        for (const auto& [m, metadata] : j.members) assignments.emplace_back(m, "p");
        std::promise<SyncOutcome> sync;
        coordinator_.Sync(kGroup, j.generation, id, assignments,
                          [&sync](SyncOutcome o) { sync.set_value(std::move(o)); });
        auto sync_future = sync.get_future();
        if (sync_future.wait_for(kAnswerWithin) != std::future_status::ready) {
          ++unanswered;
          return;
        }
        synced = sync_future.get().error == ErrorCode::kNone;
        if (synced && coordinator_.Heartbeat(kGroup, j.generation, id) == ErrorCode::kNone) {
          ++stable_rounds;
        }
      }
      EXPECT_EQ(coordinator_.Leave(kGroup, id), ErrorCode::kNone);
      coordinator_.Tick();  // timeouts checked while the others join and sync
    }
  };
  std::vector<std::thread> members;
  for (int i = 0; i < kMembers; ++i) members.emplace_back(member);
  for (std::thread& t : members) t.join();
  EXPECT_EQ(unanswered.load(), 0);
  EXPECT_EQ(unsettled.load(), 0);
  EXPECT_GT(stable_rounds.load(), 0);
  const GroupDescription d = coordinator_.Describe(kGroup);
  EXPECT_EQ(d.state, "Dead") << "the last member left: forgotten";
  EXPECT_TRUE(d.members.empty());
}

}  // namespace
}  // namespace broker::kafka
