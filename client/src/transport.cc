// Transport's default request-reply steps, in terms of its other calls. Transports with a cheaper
// path (gRPC: the inbox stream and the ack frame) override them.
#include "broker/client/transport.h"

namespace broker::client {

void Transport::PublishRequest(Inbox&, std::string_view topic, Message request, const std::string&,
                               std::chrono::steady_clock::time_point, bool alone,
                               std::function<void(Status)> on_failed) {
  std::vector<Message> messages;
  messages.push_back(std::move(request));
  PublishOptions options;
  // A request is worth keeping only while its requester waits, and the requester retries on a
  // timeout anyway: it is acknowledged once written to the OS, without an fsync of its own.
  options.durability = Durability::kAsync;
  // Nobody serving the topic fails it with no_responders, checked as part of the publish.
  options.require_subscribers = true;
  // `on_failed` only records a failure, so it may run on this thread. Requests issued back to
  // back (a pipeline, or many threads) are better queued and committed together: committing each
  // on its own thread costs more than the wake-up it saves (4-5x less W1 throughput; BENCHMARKS.md,
  // "W3 in-process with inline commits").
  options.inline_commit = alone;
  Publish(topic, std::move(messages), options,
          [on_failed = std::move(on_failed)](Result<std::vector<PublishResult>> r) {
            if (!r.ok()) on_failed(r.status());
          });
}

void Transport::ReplyAndAck(Subscription& subscription, std::string_view inbox, Message reply,
                            PartitionId partition, Offset offset, uint32_t attempt,
                            ReplyAndAckCallback done) {
  Status sent = SendReply(inbox, std::move(reply));
  subscription.AckAttemptAsync(partition, offset, attempt,
                               [sent = std::move(sent), done = std::move(done)](Status acked) {
                                 done(sent, std::move(acked));
                               });
}

}  // namespace broker::client
