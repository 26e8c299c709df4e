// The deterministic workload shared by crash_publisher (the child that gets SIGKILLed) and
// durability_crash_test (the parent that checks what survived): every message is derived from
// (round, thread, id), so the parent can regenerate the exact bytes of anything it finds.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace broker::crash {

inline constexpr std::string_view kTopic = "crash";
inline constexpr uint32_t kPartitions = 4;
inline constexpr int kThreads = 4;

struct MessageId {
  int round = 0;
  int thread = 0;
  uint64_t id = 0;  // per thread, from 0
  friend bool operator==(const MessageId&, const MessageId&) = default;
};

inline uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t Seed(const MessageId& m) {
  return Mix((uint64_t(m.round) << 56) ^ (uint64_t(m.thread) << 48) ^ m.id);
}

// "r<round>/t<thread>/m<id>|" followed by 0..1500 pseudo-random bytes (any byte value).
inline std::string Payload(const MessageId& m) {
  std::string out = "r" + std::to_string(m.round) + "/t" + std::to_string(m.thread) + "/m" +
                    std::to_string(m.id) + "|";
  uint64_t state = Seed(m);
  const size_t filler = state % 1501;
  for (size_t i = 0; i < filler; ++i) {
    if (i % 8 == 0) state = Mix(state);
    out.push_back(static_cast<char>(state >> (8 * (i % 8))));
  }
  return out;
}

// A quarter of the messages have no key; the rest use one of 16 keys per thread.
inline std::optional<std::string> Key(const MessageId& m) {
  if (m.id % 4 == 0) return std::nullopt;
  return "key-" + std::to_string(m.thread) + "-" + std::to_string(Seed(m) % 16);
}

// Parses the header Payload() writes; nullopt if `payload` does not start with one.
inline std::optional<MessageId> ParseId(std::string_view payload) {
  MessageId m;
  auto number = [&payload](char tag, auto& value) {
    if (payload.empty() || payload.front() != tag) return false;
    payload.remove_prefix(1);
    auto [end, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), value);
    if (ec != std::errc()) return false;
    payload.remove_prefix(static_cast<size_t>(end - payload.data()));
    return true;
  };
  auto separator = [&payload](char c) {
    if (payload.empty() || payload.front() != c) return false;
    payload.remove_prefix(1);
    return true;
  };
  if (!number('r', m.round) || !separator('/') || !number('t', m.thread) || !separator('/') ||
      !number('m', m.id) || !separator('|')) {
    return std::nullopt;
  }
  return m;
}

// FNV-1a, 64-bit: what an acknowledgement carries about its payload.
inline uint64_t Hash(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace broker::crash
