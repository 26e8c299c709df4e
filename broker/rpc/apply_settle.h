// ApplySettle: what one Subscribe-stream settle (ack, nack, extend, reject) does to the member's
// engine Subscription, and its wire answer. Shared by the Subscribe reactor and the service fuzz
// harness (tests/fuzz), so both exercise the same translation.
//
// Thread safety: none of its own; call it where the Subscription may be used.
#pragma once

#include <functional>

#include "broker/broker.h"
#include "broker/delivery.h"
#include "broker/v1/broker.pb.h"

namespace broker::rpc {

// Applies `settle` to `subscription` (nullptr: no subscription started yet, answered with
// failed_precondition) and fills `answer` (request id, code, message, new lease expiry for
// extend). An ack carrying a reply sends it through `broker` first (reply_code in the answer);
// the ack happens whatever became of the reply. `check_reply` (if set) may refuse the reply
// before it is sent (rpc/pending_requests.h); its status is then the reply_code. Returns the
// engine status of the settle.
using ReplyCheck = std::function<Status(const v1::SendReplyRequest& reply)>;
Status ApplySettle(Broker& broker, Subscription* subscription,
                   const v1::SubscribeRequest::Settle& settle,
                   v1::SubscribeResponse::Settled& answer,
                   const ReplyCheck& check_reply = nullptr);

}  // namespace broker::rpc
