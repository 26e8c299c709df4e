// The lease keeper of a consumer: one thread that keeps every message the consumer holds leased.
//
// Each tick it extends, in one Subscription::ExtendAttempts batch (one frame over gRPC, +WPI
// publishes over NATS), the leases of held messages (queued or running) that have half their lease
// left, on the consumer's clock. Past max_lease_extension it stops extending a running message's
// lease (which then expires as without lease keeping) and releases a queued one. A queued message
// whose extension is refused (its lease has ended) is dropped without running. It sleeps until
// the next extension falls due, at most kMaxLeaseTick (so a FakeClock moved by a test is noticed
// within it), and waits without a deadline while nothing is held.
//
// Thread safety: runs on its own thread; takes ConsumerState::mu only to read and update the
// bookkeeping, never across a call to the subscription.
#pragma once

#include <chrono>
#include <memory>

#include "consumer_impl.h"

namespace broker::client::internal {

inline constexpr auto kMaxLeaseTick = std::chrono::milliseconds(100);

// Runs until state->keeping_leases is false.
void KeepLeases(std::shared_ptr<ConsumerState> state);

// The bookkeeping of a message just leased: extended first when half of its lease is left.
void StartLease(InFlight& flight, const Delivery& delivery, TimePoint now);

}  // namespace broker::client::internal
