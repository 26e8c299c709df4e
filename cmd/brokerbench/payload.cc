#include "payload.h"

#include <algorithm>
#include <cstring>
#include <random>

namespace brokerbench {
namespace {

constexpr size_t kPoolBytes = 8 << 20;

std::string RandomBytes(size_t size) {
  std::random_device seed;
  std::mt19937_64 rng((static_cast<uint64_t>(seed()) << 32) | seed());
  std::string out(size, '\0');
  for (size_t i = 0; i < out.size(); i += sizeof(uint64_t)) {
    const uint64_t word = rng();
    std::memcpy(out.data() + i, &word, std::min(sizeof word, out.size() - i));
  }
  return out;
}

}  // namespace

std::optional<PayloadMode> ParsePayloadMode(std::string_view name) {
  if (name == "random") return PayloadMode::kRandom;
  if (name == "repeat") return PayloadMode::kRepeat;
  return std::nullopt;
}

std::string_view PayloadModeName(PayloadMode mode) {
  switch (mode) {
    case PayloadMode::kRandom:
      return "random";
    case PayloadMode::kRepeat:
      return "repeat";
  }
  return "unknown";
}

void AddPayloadFlags(CLI::App& command, size_t& bytes, PayloadMode& mode) {
  command.add_option("--payload", bytes, "payload bytes per message")->capture_default_str();
  command
      .add_option_function<std::string>(
          "--payload-mode",
          [&mode](const std::string& name) { mode = *ParsePayloadMode(name); },
          "random: distinct random bytes in every message (RocksDB's LZ4 finds nothing to "
          "compress); repeat: one random payload in every message, as the peers send")
      ->check(CLI::IsMember({"random", "repeat"}))
      ->option_text("random|repeat (default random)");
}

std::string RandomPayload(size_t size) { return RandomBytes(size); }

PayloadSource::PayloadSource(PayloadMode mode, size_t size)
    : mode_(mode),
      size_(size),
      pool_(RandomBytes(mode == PayloadMode::kRepeat ? size : std::max(kPoolBytes, 2 * size))) {}

std::string PayloadSource::Next() {
  if (mode_ == PayloadMode::kRepeat) return pool_;
  if (position_ + size_ > pool_.size()) position_ = 0;
  std::string out(pool_, position_, size_);
  position_ += size_;
  const uint64_t sequence = sequence_++;
  std::memcpy(out.data(), &sequence, std::min(sizeof sequence, size_));
  return out;
}

}  // namespace brokerbench
