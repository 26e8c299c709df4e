// PublishBatcher: coalesces publishes to one topic into fewer Publish RPCs, as Kafka producers
// and the NATS client coalesce theirs. Per (topic, publish options) at most `max_in_flight` RPCs are
// outstanding; publishes arriving while all of them are in flight wait and leave together in the
// next RPC when one returns. No timer: a lone publish goes at once, so nothing waits unless the
// connection is already busy.
//
// A merged RPC is one atomic append of all its parts. If it fails with invalid_argument or
// resource_exhausted (a bad or oversized message, a request over the size limit) it appended
// nothing, and each part is sent again on its own, so every caller gets the answer its own
// messages deserve and one caller's bad message never fails another's publish.
//
// Thread safety: Publish may be called from any thread; `send` is called without mu_ held, and
// callers' callbacks run on gRPC threads (or the calling thread if `send` fails at once).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/broker.h"

namespace broker::client::grpc_internal {

class PublishBatcher : public std::enable_shared_from_this<PublishBatcher> {
 public:
  using Callback = std::function<void(Result<std::vector<PublishResult>>)>;
  // Sends one Publish RPC; `done` runs once with its outcome (one position per message).
  // `messages` stays valid until `done` has run.
  using SendFn = std::function<void(const std::string& topic, const PublishOptions& options,
                                    const std::vector<Message>& messages, Callback done)>;

  struct Limits {
    // RPCs per (topic, options). 1 keeps this client's publishes to a topic in call order.
    size_t max_in_flight = 1;
    size_t max_messages = 1000;      // per merged RPC (a caller's own batch is never split)
    size_t max_bytes = 1024 * 1024;  // payload + key bytes per merged RPC
  };

  // Shared: RPCs in flight keep it alive after its transport is gone.
  static std::shared_ptr<PublishBatcher> Make(SendFn send, Limits limits) {
    return std::shared_ptr<PublishBatcher>(new PublishBatcher(std::move(send), limits));
  }

  void Publish(std::string_view topic, std::vector<Message> messages,
               const PublishOptions& options, Callback done);

 private:
  struct Part {
    size_t count = 0;
    Callback done;
  };
  struct Batch {
    std::vector<Message> messages;
    std::vector<Part> parts;
    size_t bytes = 0;
  };
  struct Lane {
    size_t in_flight = 0;
    std::deque<std::shared_ptr<Batch>> waiting;  // in order; only the last takes new parts
  };
  // Publishes merge only with others whose options are the same.
  struct LaneKey {
    std::string topic;
    int durability = -1;  // -1: the broker's default
    bool require_subscribers = false;
    auto operator<=>(const LaneKey&) const = default;
    PublishOptions options() const;
  };

  PublishBatcher(SendFn send, Limits limits) : send_(std::move(send)), limits_(limits) {}
  void Send(LaneKey key, std::shared_ptr<Batch> batch);
  void OnSent(const LaneKey& key, const std::shared_ptr<Batch>& batch,
              Result<std::vector<PublishResult>> result);

  const SendFn send_;
  const Limits limits_;
  std::mutex mu_;
  std::map<LaneKey, Lane> lanes_;  // guarded by mu_; a lane is erased when idle
};

}  // namespace broker::client::grpc_internal
