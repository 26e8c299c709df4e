#include "engine/inbox_registry.h"

#include <chrono>

namespace broker {

class InboxRegistry::InboxImpl final : public Inbox {
 public:
  InboxImpl(InboxRegistry* registry, std::string address)
      : registry_(registry), address_(std::move(address)) {}
  ~InboxImpl() override { registry_->Close(address_); }
  const std::string& address() const override { return address_; }

 private:
  InboxRegistry* const registry_;
  const std::string address_;
};

Result<std::unique_ptr<Inbox>> InboxRegistry::Open(Broker::ReplyHandler on_reply) {
  if (!on_reply) return Status::InvalidArgument("an inbox needs a reply handler");
  // Unique within this broker's lifetime; the time prefix keeps addresses of a restarted broker
  // from matching those of its previous run.
  static const uint64_t boot = static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
  std::string address = "_inbox." + std::to_string(boot % 1000000007) + "." +
                        std::to_string(next_id_.fetch_add(1));
  {
    std::lock_guard lock(mu_);
    inboxes_[address] = std::make_shared<Broker::ReplyHandler>(std::move(on_reply));
  }
  return std::unique_ptr<Inbox>(new InboxImpl(this, std::move(address)));
}

Status InboxRegistry::Send(std::string_view address, Message reply) {
  std::shared_ptr<Broker::ReplyHandler> handler;
  {
    std::lock_guard lock(mu_);
    auto it = inboxes_.find(std::string(address));
    if (it == inboxes_.end()) {
      return Status::NotFound("reply inbox '" + std::string(address) +
                              "' does not exist (the requester has gone or timed out)");
    }
    handler = it->second;
  }
  (*handler)(std::move(reply));
  return Status::Ok();
}

void InboxRegistry::Close(const std::string& address) {
  std::lock_guard lock(mu_);
  inboxes_.erase(address);
}

}  // namespace broker
