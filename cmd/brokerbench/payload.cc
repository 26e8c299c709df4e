#include "payload.h"

#include <algorithm>
#include <cstring>

namespace brokerbench {
namespace {

std::mt19937_64 SeededRng() {
  std::random_device seed;
  return std::mt19937_64((static_cast<uint64_t>(seed()) << 32) | seed());
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

std::string RandomPayload(size_t size) { return PayloadSource(PayloadMode::kRandom, size).Next(); }

PayloadSource::PayloadSource(PayloadMode mode, size_t size)
    : mode_(mode), size_(size), rng_(SeededRng()) {
  if (mode_ == PayloadMode::kRepeat) {
    repeated_.resize(size_);
    Fill(repeated_);
  }
}

std::string PayloadSource::Next() {
  if (mode_ == PayloadMode::kRepeat) return repeated_;
  std::string out(size_, '\0');
  Fill(out);
  return out;
}

void PayloadSource::Fill(std::string& out) {
  // Eight bytes per draw: about 16 draws for a 128-byte payload, small next to a publish.
  for (size_t i = 0; i < out.size(); i += sizeof(uint64_t)) {
    const uint64_t word = rng_();
    std::memcpy(out.data() + i, &word, std::min(sizeof word, out.size() - i));
  }
}

}  // namespace brokerbench
