#include "rpc/apply_settle.h"

#include <chrono>
#include <optional>
#include <string>

#include "rpc/convert.h"
#include "rpc/limits.h"
#include "rpc/status_mapping.h"

namespace broker::rpc {

namespace {

// The reply an ack carries goes out before the ack, as a responder would send it and then ack.
void SendCarriedReply(Broker& broker, const v1::SubscribeRequest::Settle& settle,
                      v1::SubscribeResponse::Settled& answer, const ReplyCheck& check_reply) {
  Status sent;
  if (settle.op() != v1::SubscribeRequest::Settle::OP_ACK) {
    sent = Status::InvalidArgument("only an ack can carry a reply");
  } else if (check_reply && !(sent = check_reply(settle.reply())).ok()) {
    // refused: not sent
  } else {
    Message reply;
    reply.payload = settle.reply().reply().payload();
    reply.headers = FromProto(settle.reply().reply().headers());
    sent = broker.SendReply(settle.reply().inbox(), std::move(reply));
  }
  answer.set_reply_code(static_cast<int32_t>(ToGrpcCode(sent.code())));
  if (!sent.ok()) answer.set_reply_message(ToGrpc(sent).error_message());
}

}  // namespace

Status ApplySettle(Broker& broker, Subscription* subscription,
                   const v1::SubscribeRequest::Settle& settle,
                   v1::SubscribeResponse::Settled& answer, const ReplyCheck& check_reply) {
  using Settle = v1::SubscribeRequest::Settle;
  answer.set_request_id(settle.request_id());
  Status status;
  if (subscription == nullptr) {
    status = Status::FailedPrecondition("send 'start' before settling messages");
    if (settle.has_reply()) {  // not sent either: say so, never leave reply_code at OK
      answer.set_reply_code(static_cast<int32_t>(ToGrpcCode(status.code())));
      answer.set_reply_message(ToGrpc(status).error_message());
    }
  } else {
    if (settle.has_reply()) SendCarriedReply(broker, settle, answer, check_reply);
    const PartitionId partition(settle.ref().partition());
    const Offset offset(settle.ref().offset());
    const uint32_t attempt = settle.attempt();  // 0: whichever lease this member holds
    // Kept with the message and in its dead letter: the engine cuts it to kMaxSettleTextBytes.
    const std::string& text = settle.text();
    switch (settle.op()) {
      case Settle::OP_ACK:
        status = attempt == 0 ? subscription->Ack(partition, offset)
                              : subscription->AckAttempt(partition, offset, attempt);
        break;
      case Settle::OP_NACK: {
        std::optional<std::chrono::milliseconds> delay;
        if (settle.has_delay_ms()) delay = std::chrono::milliseconds(settle.delay_ms());
        status = attempt == 0
                     ? subscription->Nack(partition, offset, delay, text)
                     : subscription->NackAttempt(partition, offset, attempt, delay, text);
        break;
      }
      case Settle::OP_EXTEND: {
        auto extended = attempt == 0 ? subscription->Extend(partition, offset)
                                     : subscription->ExtendAttempt(partition, offset, attempt);
        status = extended.status();
        if (extended.ok()) answer.set_lease_expires_us(Micros(*extended));
        break;
      }
      case Settle::OP_REJECT:
        status = attempt == 0
                     ? subscription->Reject(partition, offset, text)
                     : subscription->RejectAttempt(partition, offset, attempt, text);
        break;
      case Settle::OP_RELEASE:
        status = subscription->ReleaseAttempt(partition, offset, attempt);
        break;
      default:
        status = Status::InvalidArgument("unknown settle op " + std::to_string(settle.op()));
    }
  }
  answer.set_code(static_cast<int32_t>(ToGrpcCode(status.code())));
  if (!status.ok()) answer.set_message(ToGrpc(status).error_message());
  return status;
}

}  // namespace broker::rpc
