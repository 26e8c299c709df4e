// Group: Poll, which leases what GroupState selects, commits the leases before returning them,
// and otherwise parks until something can be leased (an append, a settle, a due timer) or its
// timeout passes.
#include <algorithm>
#include <future>

#include "delivery/group.h"

namespace broker::delivery {

Result<std::vector<Delivery>> Group::Poll(const std::string& member, size_t max,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Waiter waiter;
  waiter.member = &member;
  waiter.max = max;
  MutexLock lock(mu_);
  waiters_.push_back(&waiter);
  auto result = PollLocked(lock, waiter, deadline);
  std::erase(waiters_, &waiter);
  if (waiter.committed) return TakeHandOff(waiter);
  return result;
}

Result<std::vector<Delivery>> Group::PollLocked(MutexLock& lock, Waiter& waiter,
                                                std::chrono::steady_clock::time_point deadline) {
  const std::string& member = *waiter.member;
  for (;;) {
    // Leases a commit staged for this call are decided by that commit (FinishHandOff, at most
    // one commit away): they are this call's, or undone.
    while (!waiter.staged.empty() && !waiter.committed) lock.Wait(cv_);
    if (waiter.committed) return std::vector<Delivery>{};
    if (Status s = CheckOpen(); !s.ok()) return s;
    if (!state_.HasMember(member)) {
      return Status::FailedPrecondition("member '" + member + "' is not in group '" + name_ + "'");
    }
    Effects effects;
    state_.ProcessDue(Now(), log_, effects);
    effects.wake = Effects::Wake::kNone;  // this member polls anyway; others get the timer's wake
    Apply(effects);
    // Leasing is a write. While RocksDB recovers from a full disk every write is refused: say so
    // without leasing, so that polls retried meanwhile neither write nor count attempts. The
    // timer thread wakes the members once writes work again (RunTimers).
    // (A Poll with nothing to lease parks as usual.)
    if (waiter.max > 0 && context_.db->recovering_from_full_disk() &&
        state_.AnythingToLease(log_)) {
      leasing_refused_for_space_ = true;
      return Status::ResourceExhausted(
          "the disk is full: no message can be leased until space returns on the data "
          "directory's filesystem (acks are still taken)");
    }
    std::vector<Delivery> out;
    Status read_error;
    if (waiter.max > 0) read_error = state_.Select(member, waiter.max, Now(), log_, out, effects);
    // Nothing to hand out because the log could not be read: say so rather than wait (the
    // messages stay unsettled; a later poll tries again).
    if (out.empty() && !read_error.ok()) return read_error;
    // Other changes (acks, say) wait for their batch (ShipIfFull, the timer thread): a member
    // that has nothing to deliver does not wait for a commit before it parks.
    if (!out.empty()) {
      // The leases (with their attempt counts) are committed before anyone sees the messages.
      Status status = ShipAndWait(false);
      if (!status.ok()) {
        state_.UndoGrants(member, out);  // hand them back; attempts stay counted
        if (status.code() == StatusCode::kResourceExhausted) leasing_refused_for_space_ = true;
        return status;
      }
      return out;
    }
    const auto now_steady = std::chrono::steady_clock::now();
    if (now_steady >= deadline) return out;
    auto wake = deadline;
    if (std::optional<TimePoint> next_due = state_.NextDue()) {
      const auto until_due = *next_due - Now();
      wake = std::min(wake,
                      now_steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::max(until_due, std::chrono::microseconds(0))));
    }
    // Parked: a publish may lease records to this call in its own commit (StageHandOff).
    waiter.parked = true;
    lock.WaitUntil(cv_, wake);
    waiter.parked = false;
  }
}

}  // namespace broker::delivery
