// MergeSubscribeResponses: folds a Subscribe response into one still waiting to be written, for a
// client that set Start.merged_answers (rpc/subscribe_reactor.cc hands it to its OrderedWriter).
// Answers (Settled, SettledBatch) join a waiting SettledBatch or DeliveryBatch; a DeliveryBatch
// takes the answers waiting before it, or joins a waiting DeliveryBatch leased under the same
// credit. Answers stay in the order they were sent, and a client handles a frame's answers
// before its deliveries, so nothing is reordered that a client could tell apart.
//
// Thread safety: a plain function over its arguments.
#pragma once

#include "broker/v1/broker.pb.h"

namespace broker::rpc {

// A merged frame carries at most kMaxDeliveriesPerFrame deliveries (rpc/limits.h), so it is
// never larger than an unmerged one could be.
// True if `incoming` was folded into `waiting` (then `incoming` is left moved-from); false if it
// must go as a frame of its own (`waiting` unchanged).
bool MergeSubscribeResponses(v1::SubscribeResponse& waiting, v1::SubscribeResponse& incoming);

}  // namespace broker::rpc
