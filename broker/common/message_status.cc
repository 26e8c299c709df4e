#include "broker/delivery.h"

namespace broker {

std::string_view MessageStatusName(MessageStatus status) {
  switch (status) {
    case MessageStatus::kPending: return "pending";
    case MessageStatus::kAvailable: return "available";
    case MessageStatus::kLeased: return "leased";
    case MessageStatus::kDelayed: return "delayed";
    case MessageStatus::kAcked: return "acked";
    case MessageStatus::kDead: return "dead";
    case MessageStatus::kExpired: return "expired";
  }
  return "unknown";
}

}  // namespace broker

