#include "rpc/merge_answers.h"

#include "rpc/limits.h"

namespace broker::rpc {
namespace {

using Response = v1::SubscribeResponse;
using Answers = google::protobuf::RepeatedPtrField<Response::Settled>;

bool IsAnswer(const Response& r) { return r.has_settled() || r.has_settled_batch(); }

// Appends the answers `from` carries (it must be an answer) to `to`, in order.
void MoveAnswers(Response& from, Answers& to) {
  if (from.has_settled()) {
    to.Add(std::move(*from.mutable_settled()));
    return;
  }
  for (auto& a : *from.mutable_settled_batch()->mutable_settled()) to.Add(std::move(a));
}

}  // namespace

bool MergeSubscribeResponses(Response& waiting, Response& incoming) {
  if (IsAnswer(incoming)) {
    if (waiting.has_delivery_batch()) {
      MoveAnswers(incoming, *waiting.mutable_delivery_batch()->mutable_settled());
      return true;
    }
    if (waiting.has_settled()) {  // becomes a batch of its answer and the new ones
      Response::Settled first = std::move(*waiting.mutable_settled());
      waiting.mutable_settled_batch()->mutable_settled()->Add(std::move(first));
    }
    if (waiting.has_settled_batch()) {
      MoveAnswers(incoming, *waiting.mutable_settled_batch()->mutable_settled());
      return true;
    }
    return false;
  }
  if (!incoming.has_delivery_batch()) return false;
  if (IsAnswer(waiting)) {  // the deliveries carry the answers that were waiting, first
    Answers answers;
    answers.Reserve(waiting.has_settled() ? 1 : waiting.settled_batch().settled_size());
    MoveAnswers(waiting, answers);
    auto* batch = incoming.mutable_delivery_batch();
    for (auto& a : *batch->mutable_settled()) answers.Add(std::move(a));
    batch->mutable_settled()->Swap(&answers);
    waiting = std::move(incoming);
    return true;
  }
  if (!waiting.has_delivery_batch()) return false;
  auto* into = waiting.mutable_delivery_batch();
  auto* from = incoming.mutable_delivery_batch();
  // Deliveries leased under another credit frame keep their own count (DeliveryBatch
  // credit_frames), and a frame stays within one lease round's size.
  if (into->credit_frames() != from->credit_frames() ||
      into->deliveries_size() + from->deliveries_size() > kMaxDeliveriesPerFrame) {
    return false;
  }
  for (auto& d : *from->mutable_deliveries()) into->mutable_deliveries()->Add(std::move(d));
  for (auto& a : *from->mutable_settled()) into->mutable_settled()->Add(std::move(a));
  return true;
}

}  // namespace broker::rpc
