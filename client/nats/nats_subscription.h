// NatsSubscription: a broker::Subscription over a JetStream durable pull consumer (the group).
//
// Poll fetches at most `max` messages (a pull request, so a member never holds more than it asked
// for); each becomes a lease tracked here: its JetStream ack subject, attempt (the delivery count
// JetStream keeps, but never lower than one past the attempt this member last saw of that
// message: servers before 2.10.14 can repeat a count, see Admit) and expiry (now + ack_timeout,
// renewed by Extend). Settling a lease publishes to its ack subject: +ACK, -NAK with a delay (the
// group's backoff unless one is given), +WPI (in progress) or, for dead letters, first a publish to
// the dead-letter stream (waiting for its acknowledgement) and then +TERM. A settle after the
// local expiry fails with kFailedPrecondition, as in the engine; JetStream's own ack wait is
// longer by the backoff (see nats_subscription.cc).
//
// The consumer's MaxDeliver is max_deliveries + 1: the extra delivery of a message whose last
// lease expired is never handed to the application; it is the one that writes the dead letter
// before terminating the original, so dead-lettering on exhaustion loses nothing even though
// JetStream itself only emits a (non-durable) advisory.
//
// Leases are extended with +WPI (AckProgress), one core publish each, so a batch of extensions
// costs no round trip. A release (ReleaseAttempt, a delivery no handler saw) is a -NAK with no
// delay: JetStream has no way to return a message without counting the delivery, so unlike the
// engine the next delivery's attempt is one higher. The client keeps such releases rare (it
// prefetches little, see ConsumerOptions::prefetch). A released message that then exceeds
// max_deliveries is dead-lettered by its extra delivery, as an expired lease would be.
//
// Membership: a member answers on "<prefix>.m.<topic>.<group>.<member>" (so a second member of
// that name is refused) and, in a queue group, on "<prefix>.s.<topic>" (so requesters learn that
// someone serves the topic).
//
// Thread safety: all methods are thread-safe; mu_ guards the leases and the per-message history.
#pragma once

#include <memory>
#include <string_view>

#include "broker/delivery.h"
#include "nats_connection.h"

namespace broker::client::nats_internal {

Result<std::unique_ptr<Subscription>> OpenNatsSubscription(std::shared_ptr<NatsConnection> conn,
                                                           std::string_view topic,
                                                           std::string_view group,
                                                           const SubscribeOptions& options);

// The group configuration a durable consumer was created with (its description), or one derived
// from its JetStream settings if another tool created it.
GroupConfig GroupConfigOf(const jsConsumerInfo& info);

}  // namespace broker::client::nats_internal
