#include "publish_batcher.h"

namespace broker::client::grpc_internal {
namespace {

size_t Bytes(const std::vector<Message>& messages) {
  size_t bytes = 0;
  for (const Message& m : messages) bytes += m.payload.size() + (m.key ? m.key->size() : 0);
  return bytes;
}

}  // namespace

PublishOptions PublishBatcher::LaneKey::options() const {
  PublishOptions options;
  if (durability >= 0) options.durability = static_cast<Durability>(durability);
  options.require_subscribers = require_subscribers;
  return options;
}

void PublishBatcher::Publish(std::string_view topic, std::vector<Message> messages,
                             const PublishOptions& options, Callback done) {
  if (messages.empty()) {  // the broker's answer to an empty publish is its own
    auto alone = std::make_shared<std::vector<Message>>();
    send_(std::string(topic), options, *alone,
          [alone, done = std::move(done)](Result<std::vector<PublishResult>> r) {
            done(std::move(r));
          });
    return;
  }
  LaneKey key{std::string(topic), options.durability ? static_cast<int>(*options.durability) : -1,
              options.require_subscribers};
  const size_t bytes = Bytes(messages);
  std::shared_ptr<Batch> send_now;
  {
    std::lock_guard lock(mu_);
    Lane& lane = lanes_[key];
    if (lane.in_flight < limits_.max_in_flight && lane.waiting.empty()) {
      ++lane.in_flight;
      send_now = std::make_shared<Batch>();
      send_now->messages = std::move(messages);
      send_now->parts.push_back({send_now->messages.size(), std::move(done)});
      send_now->bytes = bytes;
    } else {
      // Waits for an RPC of this lane to return; joins the last waiting batch if it fits.
      if (lane.waiting.empty() ||
          lane.waiting.back()->messages.size() + messages.size() > limits_.max_messages ||
          lane.waiting.back()->bytes + bytes > limits_.max_bytes) {
        lane.waiting.push_back(std::make_shared<Batch>());
      }
      Batch& batch = *lane.waiting.back();
      batch.parts.push_back({messages.size(), std::move(done)});
      batch.bytes += bytes;
      if (batch.messages.empty()) {
        batch.messages = std::move(messages);
      } else {
        batch.messages.insert(batch.messages.end(), std::make_move_iterator(messages.begin()),
                              std::make_move_iterator(messages.end()));
      }
    }
  }
  if (send_now) Send(std::move(key), std::move(send_now));
}

void PublishBatcher::Send(LaneKey key, std::shared_ptr<Batch> batch) {
  const std::string topic = key.topic;
  send_(topic, key.options(), batch->messages,
        [self = shared_from_this(), key = std::move(key),
         batch](Result<std::vector<PublishResult>> result) {
          self->OnSent(key, batch, std::move(result));
        });
}

void PublishBatcher::OnSent(const LaneKey& key, const std::shared_ptr<Batch>& batch,
                            Result<std::vector<PublishResult>> result) {
  // The lane's next batch leaves before this one's callers hear back.
  std::shared_ptr<Batch> next;
  {
    std::lock_guard lock(mu_);
    Lane& lane = lanes_[key];
    if (!lane.waiting.empty()) {
      next = std::move(lane.waiting.front());
      lane.waiting.pop_front();
    } else if (--lane.in_flight == 0) {
      lanes_.erase(key);
    }
  }
  if (next) Send(key, std::move(next));

  const bool merged = batch->parts.size() > 1;
  if (!result.ok() && merged &&
      (result.status().code() == StatusCode::kInvalidArgument ||
       result.status().code() == StatusCode::kResourceExhausted)) {
    // Nothing was appended (a publish is atomic): each caller's messages go again on their own.
    size_t first = 0;
    const PublishOptions options = key.options();
    for (Part& part : batch->parts) {
      auto alone = std::make_shared<std::vector<Message>>(
          std::make_move_iterator(batch->messages.begin() + static_cast<ptrdiff_t>(first)),
          std::make_move_iterator(batch->messages.begin() +
                                  static_cast<ptrdiff_t>(first + part.count)));
      first += part.count;
      send_(key.topic, options, *alone,
            [alone, done = std::move(part.done)](Result<std::vector<PublishResult>> r) {
              done(std::move(r));
            });
    }
    return;
  }
  if (!result.ok()) {
    for (Part& part : batch->parts) part.done(result.status());
    return;
  }
  if (!merged) {
    batch->parts.front().done(std::move(result));
    return;
  }
  if (result->size() != batch->messages.size()) {
    const Status wrong =
        Status::Internal("brokerd returned " + std::to_string(result->size()) + " positions for " +
                         std::to_string(batch->messages.size()) + " messages");
    for (Part& part : batch->parts) part.done(wrong);
    return;
  }
  size_t first = 0;
  for (Part& part : batch->parts) {
    std::vector<PublishResult> mine(result->begin() + static_cast<ptrdiff_t>(first),
                                    result->begin() + static_cast<ptrdiff_t>(first + part.count));
    first += part.count;
    part.done(std::move(mine));
  }
}

}  // namespace broker::client::grpc_internal
