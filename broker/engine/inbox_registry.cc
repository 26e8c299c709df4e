#include "engine/inbox_registry.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>

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

namespace {

// "_inbox." and 32 hex digits of the kernel's CSPRNG: an address nobody can guess, so only those
// given a request (in its reply_to header) can reply to it, and one of a previous run never
// matches.
Result<std::string> RandomAddress() {
  uint8_t bytes[16];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Internal("no random bytes for an inbox address (getrandom failed)");
    }
    filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string address = "_inbox.";
  for (uint8_t b : bytes) {
    address.push_back(kHex[b >> 4]);
    address.push_back(kHex[b & 0xf]);
  }
  return address;
}

}  // namespace

Result<std::unique_ptr<Inbox>> InboxRegistry::Open(Broker::ReplyHandler on_reply) {
  if (!on_reply) return Status::InvalidArgument("an inbox needs a reply handler");
  auto handler = std::make_shared<Broker::ReplyHandler>(std::move(on_reply));
  for (;;) {
    auto address = RandomAddress();
    if (!address.ok()) return address.status();
    std::lock_guard lock(mu_);
    // A collision of 128 random bits does not happen; if it did, the first inbox keeps its own.
    if (!inboxes_.try_emplace(*address, handler).second) continue;
    return std::unique_ptr<Inbox>(new InboxImpl(this, std::move(address).value()));
  }
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
