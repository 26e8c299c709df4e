#include "kafka/group_coordinator.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace broker::kafka {
namespace {

// The answer to a JoinGroup that did not join: no generation, no leader.
JoinOutcome JoinFailure(ErrorCode error, std::string member_id) {
  return JoinOutcome{.error = error,
                     .generation = -1,
                     .protocol_name = {},
                     .leader = {},
                     .member_id = std::move(member_id),
                     .members = {}};
}

}  // namespace

GroupCoordinator::GroupCoordinator(std::shared_ptr<Clock> clock, CoordinatorConfig config)
    : clock_(std::move(clock)), config_(config), random_(std::random_device{}()) {}

const char* GroupCoordinator::StateName(State state) {
  switch (state) {
    case State::kEmpty:
      return "Empty";
    case State::kPreparingRebalance:
      return "PreparingRebalance";
    case State::kCompletingRebalance:
      return "CompletingRebalance";
    case State::kStable:
      return "Stable";
  }
  return "Dead";
}

std::string GroupCoordinator::NewMemberId(const std::string& client_id) {
  char suffix[40];
  std::snprintf(suffix, sizeof(suffix), "-%016llx%04llx",
                static_cast<unsigned long long>(random_()),
                static_cast<unsigned long long>(next_seq_ & 0xffff));
  return client_id + suffix;
}

// Kafka's rule: the group's protocol type must match, and some protocol must be supported by the
// joining member and by every current member.
bool GroupCoordinator::SupportsProtocols(const Group& g, const JoinArgs& args) const {
  if (args.protocols.empty() || args.protocol_type.empty()) return false;
  if (g.members.empty()) return true;
  if (args.protocol_type != g.protocol_type) return false;
  for (const GroupProtocol& candidate : args.protocols) {
    const bool all = std::all_of(g.members.begin(), g.members.end(), [&](const auto& m) {
      return std::any_of(m.second.protocols.begin(), m.second.protocols.end(),
                         [&](const GroupProtocol& p) { return p.name == candidate.name; });
    });
    if (all) return true;
  }
  return false;
}

JoinOutcome GroupCoordinator::CurrentGeneration(const Group& g,
                                                const std::string& member_id) const {
  JoinOutcome out{.error = ErrorCode::kNone,
                  .generation = g.generation,
                  .protocol_name = g.protocol,
                  .leader = g.leader,
                  .member_id = member_id,
                  .members = {}};
  if (member_id == g.leader) {
    for (const auto& [id, m] : g.members) {
      for (const GroupProtocol& p : m.protocols) {
        if (p.name == g.protocol) out.members.emplace_back(id, p.metadata);
      }
    }
  }
  return out;
}

void GroupCoordinator::Join(JoinArgs args, JoinDone done) {
  if (args.group.empty()) return done(JoinFailure(ErrorCode::kInvalidGroupId, args.member_id));
  if (args.session_timeout < config_.min_session_timeout ||
      args.session_timeout > config_.max_session_timeout) {
    return done(JoinFailure(ErrorCode::kInvalidSessionTimeout, args.member_id));
  }
  if (args.rebalance_timeout.count() <= 0) args.rebalance_timeout = args.session_timeout;
  Effects effects;
  std::optional<JoinOutcome> answer;
  {
    std::lock_guard lock(mu_);
    const TimePoint now = clock_->Now();
    answer = RefusedJoin(args);
    // A refused join leaves no group behind: the group is added for a member it admits.
    Group* g = answer ? nullptr : &groups_[args.group];
    if (!answer && args.member_id.empty()) {
      const std::string id = NewMemberId(args.client_id);
      ++next_seq_;
      if (args.require_known_member) {
        g->pending[id] = now + args.session_timeout;
        answer = JoinFailure(ErrorCode::kMemberIdRequired, id);
      } else {
        args.member_id = id;
      }
    }
    if (!answer) answer = Admit(*g, args, done, now, effects);
  }
  if (answer) done(std::move(*answer));
  for (auto& effect : effects) effect();
}

std::optional<JoinOutcome> GroupCoordinator::RefusedJoin(const JoinArgs& args) const {
  if (shut_down_) return JoinFailure(ErrorCode::kNotCoordinator, args.member_id);
  auto found = groups_.find(args.group);
  const Group no_group;
  const Group& g = found != groups_.end() ? found->second : no_group;
  if (!SupportsProtocols(g, args)) {
    return JoinFailure(ErrorCode::kInconsistentGroupProtocol, args.member_id);
  }
  if (!args.member_id.empty() && g.members.count(args.member_id) == 0 &&
      g.pending.count(args.member_id) == 0) {
    return JoinFailure(ErrorCode::kUnknownMemberId, args.member_id);
  }
  return std::nullopt;
}

std::optional<JoinOutcome> GroupCoordinator::Admit(Group& g, JoinArgs& args, JoinDone& done,
                                                   TimePoint now, Effects& effects) {
  g.pending.erase(args.member_id);
  auto [it, added] = g.members.try_emplace(args.member_id);
  Member& m = it->second;
  const bool protocols_changed =
      !added && (m.protocols.size() != args.protocols.size() ||
                 !std::equal(m.protocols.begin(), m.protocols.end(), args.protocols.begin(),
                             [](const GroupProtocol& a, const GroupProtocol& b) {
                               return a.name == b.name && a.metadata == b.metadata;
                             }));
  if (added) m.seq = next_seq_++;
  m.client_id = args.client_id;
  m.client_host = args.client_host;
  m.session_timeout = args.session_timeout;
  m.rebalance_timeout = args.rebalance_timeout;
  m.protocols = std::move(args.protocols);
  m.last_seen = now;
  if (g.members.size() == 1) g.protocol_type = args.protocol_type;
  // A known member rejoining with the same protocols after the rebalance completed gets the
  // current generation back; the leader rejoining, or anything new, starts a rebalance.
  const bool settled = g.state == State::kCompletingRebalance ||
                       (g.state == State::kStable && args.member_id != g.leader);
  if (!added && !protocols_changed && settled) return CurrentGeneration(g, args.member_id);
  if (m.awaiting_join) {  // a duplicate JoinGroup: the older one is superseded
    effects.push_back([old = std::move(m.awaiting_join), id = args.member_id] {
      old(JoinFailure(ErrorCode::kUnknownMemberId, id));
    });
  }
  m.awaiting_join = std::move(done);
  if (g.state != State::kPreparingRebalance) PrepareRebalance(g, now, effects);
  MaybeCompleteJoin(g, now, effects);
  return std::nullopt;
}

// A group without members or member ids handed out is forgotten (Describe answers Dead), so
// groups do not pile up: its committed offsets are the engine's, and a join starts it again.
bool GroupCoordinator::Idle(const Group& g) { return g.members.empty() && g.pending.empty(); }

void GroupCoordinator::PrepareRebalance(Group& g, TimePoint now, Effects& effects) {
  // Members waiting for assignments of the abandoned generation learn it is gone.
  for (auto& [id, m] : g.members) {
    if (m.awaiting_sync) {
      effects.push_back([cb = std::move(m.awaiting_sync)] {
        cb({.error = ErrorCode::kRebalanceInProgress, .assignment = {}});
      });
      m.awaiting_sync = nullptr;
    }
  }
  std::chrono::milliseconds timeout{0};
  for (const auto& [id, m] : g.members) timeout = std::max(timeout, m.rebalance_timeout);
  g.state = State::kPreparingRebalance;
  g.rebalance_deadline = now + timeout;
}

void GroupCoordinator::MaybeCompleteJoin(Group& g, TimePoint now, Effects& effects) {
  if (g.state != State::kPreparingRebalance || !g.pending.empty()) return;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join) return;
  }
  CompleteJoin(g, now, effects);
}

void GroupCoordinator::CompleteJoin(Group& g, TimePoint now, Effects& effects) {
  // Members that did not rejoin in time are out, as are ids never used.
  std::erase_if(g.members, [](const auto& entry) { return !entry.second.awaiting_join; });
  g.pending.clear();
  ++g.generation;
  if (g.members.empty()) {
    g.state = State::kEmpty;
    g.protocol.clear();
    g.protocol_type.clear();
    g.leader.clear();
    return;
  }
  if (g.members.count(g.leader) == 0) {
    g.leader =
        std::min_element(g.members.begin(), g.members.end(), [](const auto& a, const auto& b) {
          return a.second.seq < b.second.seq;
        })->first;
  }
  // Every member votes for the first of its protocols that all members support; the most votes
  // win, ties going to the leader's order (Kafka's selectProtocol).
  std::set<std::string> common;
  for (const GroupProtocol& p : g.members.at(g.leader).protocols) common.insert(p.name);
  for (const auto& [id, m] : g.members) {
    std::set<std::string> mine;
    for (const GroupProtocol& p : m.protocols) {
      if (common.count(p.name) != 0) mine.insert(p.name);
    }
    common = std::move(mine);
  }
  std::map<std::string, int> votes;
  for (const auto& [id, m] : g.members) {
    for (const GroupProtocol& p : m.protocols) {
      if (common.count(p.name) != 0) {
        ++votes[p.name];
        break;
      }
    }
  }
  g.protocol.clear();
  int best = -1;
  for (const GroupProtocol& p : g.members.at(g.leader).protocols) {
    if (votes.count(p.name) != 0 && votes[p.name] > best) {
      best = votes[p.name];
      g.protocol = p.name;
    }
  }
  g.state = State::kCompletingRebalance;
  for (auto& [id, m] : g.members) {
    m.assignment.clear();
    m.last_seen = now;
    effects.push_back([cb = std::move(m.awaiting_join),
                       outcome = CurrentGeneration(g, id)]() mutable { cb(std::move(outcome)); });
    m.awaiting_join = nullptr;
  }
}

void GroupCoordinator::RemoveMember(Group& g, const std::string& member_id, TimePoint now,
                                    Effects& effects) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Member& m = it->second;
  if (m.awaiting_join) {
    effects.push_back([cb = std::move(m.awaiting_join), member_id] {
      cb(JoinFailure(ErrorCode::kUnknownMemberId, member_id));
    });
  }
  if (m.awaiting_sync) {
    effects.push_back([cb = std::move(m.awaiting_sync)] {
      cb({.error = ErrorCode::kUnknownMemberId, .assignment = {}});
    });
  }
  g.members.erase(it);
  if (g.state == State::kStable || g.state == State::kCompletingRebalance) {
    PrepareRebalance(g, now, effects);
  }
  MaybeCompleteJoin(g, now, effects);
}

void GroupCoordinator::Sync(const std::string& group, int32_t generation,
                            const std::string& member_id,
                            const std::vector<std::pair<std::string, std::string>>& assignments,
                            SyncDone done) {
  Effects effects;
  std::optional<SyncOutcome> answer;
  {
    std::lock_guard lock(mu_);
    auto g = groups_.find(group);
    Member* m = nullptr;
    if (g != groups_.end()) {
      auto it = g->second.members.find(member_id);
      if (it != g->second.members.end()) m = &it->second;
    }
    if (shut_down_) {
      answer = SyncOutcome{.error = ErrorCode::kNotCoordinator, .assignment = {}};
    } else if (m == nullptr) {
      answer = SyncOutcome{.error = ErrorCode::kUnknownMemberId, .assignment = {}};
    } else if (generation != g->second.generation) {
      answer = SyncOutcome{.error = ErrorCode::kIllegalGeneration, .assignment = {}};
    } else {
      Group& grp = g->second;
      m->last_seen = clock_->Now();
      switch (grp.state) {
        case State::kEmpty:
        case State::kPreparingRebalance:
          answer = SyncOutcome{.error = ErrorCode::kRebalanceInProgress, .assignment = {}};
          break;
        case State::kStable:
          answer = SyncOutcome{.error = ErrorCode::kNone, .assignment = m->assignment};
          break;
        case State::kCompletingRebalance:
          if (m->awaiting_sync) {  // a duplicate SyncGroup: the older one is superseded
            effects.push_back([cb = std::move(m->awaiting_sync)] {
              cb({.error = ErrorCode::kRebalanceInProgress, .assignment = {}});
            });
          }
          m->awaiting_sync = std::move(done);
          if (member_id == grp.leader) {
            for (const auto& [id, assignment] : assignments) {
              auto target = grp.members.find(id);
              if (target != grp.members.end()) target->second.assignment = assignment;
            }
            grp.state = State::kStable;
            for (auto& [id, member] : grp.members) {
              if (!member.awaiting_sync) continue;
              effects.push_back([cb = std::move(member.awaiting_sync), a = member.assignment] {
                cb({.error = ErrorCode::kNone, .assignment = a});
              });
              member.awaiting_sync = nullptr;
            }
          }
          break;
      }
    }
  }
  if (answer) done(std::move(*answer));
  for (auto& effect : effects) effect();
}

ErrorCode GroupCoordinator::Heartbeat(const std::string& group, int32_t generation,
                                      const std::string& member_id) {
  std::lock_guard lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return ErrorCode::kUnknownMemberId;
  auto m = g->second.members.find(member_id);
  if (m == g->second.members.end()) return ErrorCode::kUnknownMemberId;
  if (generation != g->second.generation) return ErrorCode::kIllegalGeneration;
  m->second.last_seen = clock_->Now();
  switch (g->second.state) {
    case State::kEmpty:
      return ErrorCode::kUnknownMemberId;
    case State::kPreparingRebalance:
      return ErrorCode::kRebalanceInProgress;
    case State::kCompletingRebalance:
    case State::kStable:
      return ErrorCode::kNone;
  }
  return ErrorCode::kNone;
}

ErrorCode GroupCoordinator::Leave(const std::string& group, const std::string& member_id) {
  Effects effects;
  ErrorCode result = ErrorCode::kNone;
  {
    std::lock_guard lock(mu_);
    auto g = groups_.find(group);
    if (g == groups_.end()) {
      result = ErrorCode::kUnknownMemberId;
    } else if (g->second.pending.erase(member_id) != 0) {
      MaybeCompleteJoin(g->second, clock_->Now(), effects);
    } else if (g->second.members.count(member_id) == 0) {
      result = ErrorCode::kUnknownMemberId;
    } else {
      RemoveMember(g->second, member_id, clock_->Now(), effects);
    }
    if (g != groups_.end() && Idle(g->second)) groups_.erase(g);
  }
  for (auto& effect : effects) effect();
  return result;
}

ErrorCode GroupCoordinator::ValidateCommit(const std::string& group, int32_t generation,
                                           const std::string& member_id) {
  std::lock_guard lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end() || g->second.members.empty()) {
    // A group that uses the broker only to store offsets (no members) commits with generation
    // -1; a member of a generation the broker does not know (after a restart) must rejoin.
    if (generation < 0) return ErrorCode::kNone;
    return g == groups_.end() ? ErrorCode::kIllegalGeneration : ErrorCode::kUnknownMemberId;
  }
  auto m = g->second.members.find(member_id);
  if (m == g->second.members.end()) return ErrorCode::kUnknownMemberId;
  if (generation != g->second.generation) return ErrorCode::kIllegalGeneration;
  if (g->second.state == State::kCompletingRebalance) return ErrorCode::kRebalanceInProgress;
  m->second.last_seen = clock_->Now();
  return ErrorCode::kNone;
}

GroupDescription GroupCoordinator::Describe(const std::string& group) {
  std::lock_guard lock(mu_);
  GroupDescription out;
  auto g = groups_.find(group);
  if (g == groups_.end()) {
    out.state = "Dead";
    return out;
  }
  out.state = StateName(g->second.state);
  out.protocol_type = g->second.protocol_type;
  out.protocol = g->second.protocol;
  for (const auto& [id, m] : g->second.members) {
    GroupDescription::Member member{.member_id = id,
                                    .client_id = m.client_id,
                                    .client_host = m.client_host,
                                    .metadata = {},
                                    .assignment = m.assignment};
    for (const GroupProtocol& p : m.protocols) {
      if (p.name == g->second.protocol) member.metadata = p.metadata;
    }
    out.members.push_back(std::move(member));
  }
  return out;
}

void GroupCoordinator::Tick() {
  Effects effects;
  {
    std::lock_guard lock(mu_);
    const TimePoint now = clock_->Now();
    for (auto& [name, g] : groups_) {
      const size_t pending_before = g.pending.size();
      std::erase_if(g.pending, [now](const auto& entry) { return entry.second <= now; });
      std::vector<std::string> expired;
      for (const auto& [id, m] : g.members) {
        // A member waiting in JoinGroup is not expected to heartbeat (Kafka does the same).
        if (!m.awaiting_join && now - m.last_seen >= m.session_timeout) expired.push_back(id);
      }
      for (const std::string& id : expired) RemoveMember(g, id, now, effects);
      if (g.state == State::kPreparingRebalance && now >= g.rebalance_deadline) {
        CompleteJoin(g, now, effects);
      } else if (g.pending.size() != pending_before) {
        MaybeCompleteJoin(g, now, effects);
      }
    }
    std::erase_if(groups_, [](const auto& entry) { return Idle(entry.second); });
  }
  for (auto& effect : effects) effect();
}

void GroupCoordinator::Shutdown() {
  Effects effects;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, g] : groups_) {
      for (auto& [id, m] : g.members) {
        if (m.awaiting_join) {
          effects.push_back([cb = std::move(m.awaiting_join), id] {
            cb(JoinFailure(ErrorCode::kNotCoordinator, id));
          });
        }
        if (m.awaiting_sync) {
          effects.push_back([cb = std::move(m.awaiting_sync)] {
            cb({.error = ErrorCode::kNotCoordinator, .assignment = {}});
          });
        }
      }
    }
    groups_.clear();
    shut_down_ = true;
  }
  for (auto& effect : effects) effect();
}

}  // namespace broker::kafka
