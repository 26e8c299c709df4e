#include "torture_workload.h"

namespace broker::torture {

GroupConfig TortureGroupConfig(Ordering ordering) {
  GroupConfig config;
  config.ordering = ordering;
  config.ack_timeout = kAckTimeout;
  config.max_deliveries = kMaxDeliveries;
  config.backoff = BackoffPolicy{.initial = std::chrono::milliseconds(20),
                                 .multiplier = 2.0,
                                 .max = std::chrono::milliseconds(200),
                                 .jitter = 0.2};
  return config;
}

std::string_view ClassName(MessageClass c) {
  switch (c) {
    case MessageClass::kNormal:
      return "normal";
    case MessageClass::kPoison:
      return "poison";
    case MessageClass::kRejected:
      return "rejected";
  }
  return "?";
}

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Hash(std::string_view s) {  // FNV-1a, then mixed
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return Mix(h);
}

std::string MessageIdFor(int publisher, uint64_t seq) {
  return "p" + std::to_string(publisher) + "-" + std::to_string(seq);
}

MessageClass ClassOf(std::string_view id) {
  const uint64_t h = Hash(id);
  if (h % 31 == 0) return MessageClass::kPoison;
  if (h % 47 == 1) return MessageClass::kRejected;
  return MessageClass::kNormal;
}

Message MakeMessage(std::string_view id) {
  uint64_t state = Hash(id) ^ 0x5eed;
  Message m;
  // One message in five has no key (round-robin); the rest use one of 24 keys.
  if (state % 5 != 0) m.key = "key-" + std::to_string(Mix(state) % 24);
  m.payload = std::string(id) + "|";
  const size_t filler = Mix(state + 1) % 700;
  for (size_t i = 0; i < filler; ++i) {  // any byte value, zeros included
    if (i % 8 == 0) state = Mix(state);
    m.payload.push_back(static_cast<char>(state >> (8 * (i % 8))));
  }
  m.headers.emplace_back(std::string(kIdHeader), std::string(id));
  m.headers.emplace_back(std::string(kClassHeader), std::string(ClassName(ClassOf(id))));
  m.idempotency_key = std::string(id);
  return m;
}

Action ActionFor(uint64_t seed, std::string_view group, std::string_view id, uint32_t attempt) {
  switch (ClassOf(id)) {
    case MessageClass::kPoison:
      return Action::kPoison;
    case MessageClass::kRejected:
      return Action::kReject;
    case MessageClass::kNormal:
      break;
  }
  // Later attempts succeed, so a normal message reaches the DLQ only if crashes cost it
  // deliveries (a lease granted and lost with brokerd): allowed, and counted.
  if (attempt > 1) return Action::kAck;
  const uint64_t roll = Mix(seed ^ Hash(group) ^ Hash(id)) % 100;
  if (roll < 8) return Action::kNack;
  // A dropped message holds one of its consumer's max_in_flight slots until its lease expires.
  if (roll < 10) return Action::kDrop;
  return Action::kAck;
}

}  // namespace broker::torture
