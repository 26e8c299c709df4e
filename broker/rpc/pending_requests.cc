#include "rpc/pending_requests.h"

namespace broker::rpc {

void PendingRequests::Open(const std::string& inbox) {
  std::lock_guard lock(mu_);
  inboxes_.try_emplace(inbox);
}

void PendingRequests::Add(const std::string& inbox, const std::string& correlation_id,
                          std::string topic) {
  std::lock_guard lock(mu_);
  auto it = inboxes_.find(inbox);
  if (it == inboxes_.end()) return;  // closed meanwhile: nobody can be answered on it
  Inbox& state = it->second;
  auto [entry, added] = state.topics.insert_or_assign(correlation_id, std::move(topic));
  if (!added) return;  // a repeated id: keeps its place
  state.order.push_back(correlation_id);
  if (state.order.size() > kRememberedPerInbox) {
    state.topics.erase(state.order.front());
    state.order.pop_front();
  }
}

void PendingRequests::Close(const std::string& inbox) {
  std::lock_guard lock(mu_);
  inboxes_.erase(inbox);
}

Result<std::string> PendingRequests::TopicOf(std::string_view inbox,
                                             std::string_view correlation_id) const {
  std::lock_guard lock(mu_);
  auto it = inboxes_.find(inbox);
  if (it == inboxes_.end()) {
    return Status::NotFound("reply inbox '" + std::string(inbox) +
                            "' does not exist (the requester has gone or timed out)");
  }
  auto request = it->second.topics.find(std::string(correlation_id));
  if (request == it->second.topics.end()) {
    return Status::PermissionDenied(
        "no request with correlation_id '" + std::string(correlation_id) +
        "' was sent from this inbox: a reply must answer a request its requester sent");
  }
  return request->second;
}

}  // namespace broker::rpc
