// GroupCoordinator: the membership half of Kafka's classic consumer-group protocol (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, and the generation check of OffsetCommit), as Apache Kafka's
// broker answers it. Members, generations and assignments live in memory only, as in Kafka, where
// a coordinator change also makes every member rejoin; committed offsets are the engine's (see
// offset_store.h), so they survive a restart.
//
// A group moves Empty -> PreparingRebalance (a member joined, left, changed its protocols or timed
// out) -> CompletingRebalance (every member rejoined, or the rebalance timeout passed and those who
// did not were removed; the leader got the member list) -> Stable (the leader's SyncGroup carried
// the assignments; every member's SyncGroup, parked or later, is answered with its own) and back.
// JoinGroup and SyncGroup may wait: their answer is a callback, run once, possibly on the thread of
// another member's request or of Tick. Nothing here knows sockets or the engine, and time comes
// from the injected Clock, so tests drive it with a FakeClock and Tick.
//
// Thread safety: every method may be called from any thread; one mutex guards all groups, and
// callbacks run after it is released (they may call back in).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "broker/clock.h"
#include "kafka/errors.h"

namespace broker::kafka {

struct CoordinatorConfig {
  // Session timeouts a member may ask for (Kafka's group.min/max.session.timeout.ms); outside
  // them JoinGroup answers INVALID_SESSION_TIMEOUT. Defaults 6 s and 30 min, as Kafka.
  std::chrono::milliseconds min_session_timeout{6000};
  std::chrono::milliseconds max_session_timeout{1800000};
};

struct GroupProtocol {
  std::string name;
  std::string metadata;
};

struct JoinArgs {
  std::string group;
  std::string member_id;  // empty: a new member
  std::string client_id;
  std::string client_host;
  std::chrono::milliseconds session_timeout{0};
  std::chrono::milliseconds rebalance_timeout{0};  // v0 has none: pass the session timeout
  std::string protocol_type;
  std::vector<GroupProtocol> protocols;
  // JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED with its id and joins again with it.
  bool require_known_member = false;
};

struct JoinOutcome {
  ErrorCode error = ErrorCode::kNone;
  int32_t generation = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  // The leader's answer only: every member and its metadata for the chosen protocol.
  std::vector<std::pair<std::string, std::string>> members;
};

struct SyncOutcome {
  ErrorCode error = ErrorCode::kNone;
  std::string assignment;
};

struct GroupDescription {
  // Empty (only ids handed out by MEMBER_ID_REQUIRED), PreparingRebalance, CompletingRebalance,
  // Stable, Dead (no members: unknown, or forgotten once its last member left).
  std::string state;
  std::string protocol_type;
  std::string protocol;
  struct Member {
    std::string member_id;
    std::string client_id;
    std::string client_host;
    std::string metadata;  // for the chosen protocol
    std::string assignment;
  };
  std::vector<Member> members;
};

class GroupCoordinator {
 public:
  using JoinDone = std::function<void(JoinOutcome)>;
  using SyncDone = std::function<void(SyncOutcome)>;

  GroupCoordinator(std::shared_ptr<Clock> clock, CoordinatorConfig config);

  // `done` runs once: at once for an error, a MEMBER_ID_REQUIRED or a known member rejoining with
  // unchanged protocols; otherwise when the rebalance completes.
  void Join(JoinArgs args, JoinDone done);
  // `done` runs once: at once, except in CompletingRebalance, where it waits for the leader's
  // assignments (or for the rebalance to be abandoned: REBALANCE_IN_PROGRESS).
  void Sync(const std::string& group, int32_t generation, const std::string& member_id,
            const std::vector<std::pair<std::string, std::string>>& assignments, SyncDone done);
  ErrorCode Heartbeat(const std::string& group, int32_t generation, const std::string& member_id);
  // Removes the member at once (its waiting JoinGroup or SyncGroup is answered UNKNOWN_MEMBER_ID)
  // and rebalances the rest; once the last member left the group is forgotten (Dead).
  ErrorCode Leave(const std::string& group, const std::string& member_id);
  // Whether an OffsetCommit of `member_id` in `generation` may be applied (Kafka's rules: a group
  // without members accepts commits of generation -1; otherwise the member and generation must be
  // current and the group not waiting for its assignments). A valid commit counts as a heartbeat.
  ErrorCode ValidateCommit(const std::string& group, int32_t generation,
                           const std::string& member_id);
  GroupDescription Describe(const std::string& group);

  // Removes members whose session timed out, completes rebalances whose timeout passed and
  // forgets groups left without members. The listener calls it every 100 ms; tests call it after
  // advancing their clock.
  void Tick();
  // Answers every waiting JoinGroup and SyncGroup with NOT_COORDINATOR (the listener is
  // stopping: their connections are closing) and forgets every group; later calls of Join and
  // Sync answer NOT_COORDINATOR at once, so nothing waits any more.
  void Shutdown();

 private:
  enum class State { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };
  struct Member {
    uint64_t seq = 0;  // join order: the first member is leader when the leader left
    std::string client_id;
    std::string client_host;
    std::chrono::milliseconds session_timeout{0};
    std::chrono::milliseconds rebalance_timeout{0};
    std::vector<GroupProtocol> protocols;
    TimePoint last_seen{};
    JoinDone awaiting_join;
    SyncDone awaiting_sync;
    std::string assignment;
  };
  struct Group {
    State state = State::kEmpty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol;
    std::string leader;
    std::map<std::string, Member> members;
    std::map<std::string, TimePoint> pending;  // ids handed out by MEMBER_ID_REQUIRED -> expiry
    TimePoint rebalance_deadline{};
  };
  // Callbacks to run once the lock is released.
  using Effects = std::vector<std::function<void()>>;

  static const char* StateName(State state);
  static bool Idle(const Group& g);
  // The answer to a join refused before anything changes, or nullopt.
  std::optional<JoinOutcome> RefusedJoin(const JoinArgs& args) const;
  // Adds or updates the member `args` names; the answer if it is immediate, otherwise `done` is
  // kept to be answered when the rebalance completes.
  std::optional<JoinOutcome> Admit(Group& g, JoinArgs& args, JoinDone& done, TimePoint now,
                                   Effects& effects);
  std::string NewMemberId(const std::string& client_id);
  bool SupportsProtocols(const Group& g, const JoinArgs& args) const;
  JoinOutcome CurrentGeneration(const Group& g, const std::string& member_id) const;
  void PrepareRebalance(Group& g, TimePoint now, Effects& effects);
  void MaybeCompleteJoin(Group& g, TimePoint now, Effects& effects);
  void CompleteJoin(Group& g, TimePoint now, Effects& effects);
  void RemoveMember(Group& g, const std::string& member_id, TimePoint now, Effects& effects);

  const std::shared_ptr<Clock> clock_;
  const CoordinatorConfig config_;
  std::mutex mu_;
  std::map<std::string, Group> groups_;  // guarded by mu_
  bool shut_down_ = false;               // guarded by mu_: Join and Sync answer NOT_COORDINATOR
  uint64_t next_seq_ = 0;                // guarded by mu_
  std::mt19937_64 random_;               // guarded by mu_
};

}  // namespace broker::kafka
