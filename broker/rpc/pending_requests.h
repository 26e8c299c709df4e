// PendingRequests: the requests brokerd's inbox streams have published, by inbox and correlation
// id, so that a reply is accepted only for one of them (request-reply's rule against spoofed
// replies; docs/operations.md, "Request-reply"):
//   1. the inbox exists (its address carries 128 random bits: only those given a request with its
//      reply_to header know it); otherwise NOT_FOUND, as for a requester that has gone;
//   2. the reply's correlation_id header names a request published through that inbox's stream,
//      one of its latest kRememberedPerInbox (answered or not: a second or late reply still
//      reaches the requester, which drops and counts it);
//   3. the replier's token has the consume right on that request's topic;
//   4. a reply carried by an ack on a Subscribe stream: that stream's subscription is on the
//      request's topic.
// Failing 2-4 is PERMISSION_DENIED and nothing reaches the inbox.
//
// Thread safety: all methods are thread-safe (mu_ is a leaf lock).
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker/status.h"

namespace broker::rpc {

// The reply header naming the request it answers (broker.proto, "Request-reply headers").
inline constexpr std::string_view kCorrelationIdHeader = "correlation_id";

class PendingRequests {
 public:
  // Correlation ids one inbox remembers; older ones are forgotten first.
  static constexpr size_t kRememberedPerInbox = 65536;

  // An inbox stream opened `inbox`. Until Close, its requests are remembered.
  void Open(const std::string& inbox);
  // The inbox stream published (or is publishing) a request to `topic`.
  void Add(const std::string& inbox, const std::string& correlation_id, std::string topic);
  void Close(const std::string& inbox);

  // The topic of the request a reply to `inbox` with `correlation_id` answers: kNotFound if the
  // inbox is not open, kPermissionDenied if no such request was published through it.
  Result<std::string> TopicOf(std::string_view inbox, std::string_view correlation_id) const;
  // Rules 1, 2 and 4 for a reply to `inbox` with `headers` (name, value pairs), sent on a
  // Subscribe stream whose subscription is on `stream_topic` (nullopt: by SendReply). Returns the
  // request's topic, on which the caller checks the replier's consume right (rule 3).
  template <typename Headers>
  Result<std::string> Authorize(std::string_view inbox, const Headers& headers,
                                std::optional<std::string_view> stream_topic) const {
    std::string_view correlation_id;
    for (const auto& header : headers) {
      if (header.name() == kCorrelationIdHeader) correlation_id = header.value();
    }
    auto topic = TopicOf(inbox, correlation_id);
    if (!topic.ok()) return topic;
    if (stream_topic && *stream_topic != *topic) {
      return Status::PermissionDenied("a reply to a request on topic '" + *topic +
                                      "' cannot ride an ack on a subscription to '" +
                                      std::string(*stream_topic) + "'");
    }
    return topic;
  }

 private:
  struct Inbox {
    std::unordered_map<std::string, std::string> topics;  // correlation id -> topic
    std::deque<std::string> order;                        // correlation ids, oldest first
  };
  mutable std::mutex mu_;
  std::map<std::string, Inbox, std::less<>> inboxes_;  // guarded by mu_
};

}  // namespace broker::rpc
