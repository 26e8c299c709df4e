// Message payloads of a run. By default every message carries its own random bytes: RocksDB
// compresses the log (LZ4, see broker/storage/storage_db.cc), so one payload repeated in every
// message would measure a store that writes a fraction of the bytes the peers write. The peers'
// mode (../shared/bench-peers/src/common.h fill_random: one random buffer sent in every message)
// stays available as `repeat`.
//
// Thread safety: PayloadSource is a single-threaded value; give each producer its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace brokerbench {

enum class PayloadMode { kRandom, kRepeat };

// "random" or "repeat"; nullopt for anything else.
std::optional<PayloadMode> ParsePayloadMode(std::string_view name);
std::string_view PayloadModeName(PayloadMode mode);

// --payload (bytes per message) and --payload-mode (random|repeat), shared by the commands that
// publish.
void AddPayloadFlags(CLI::App& command, size_t& bytes, PayloadMode& mode);

// `size` random bytes (seeded from std::random_device).
std::string RandomPayload(size_t size);

class PayloadSource {
 public:
  // Seeded from std::random_device: two sources give different bytes.
  PayloadSource(PayloadMode mode, size_t size);
  // The next message's payload. kRandom: the next `size` bytes of a random pool of at least
  // 8 MiB, read round, with the message's sequence number in its first 8 bytes, so every payload
  // differs and none repeats within LZ4's 64 KiB window; drawing fresh random bytes per message
  // instead costs the producer thread more than the engine's publish path does. kRepeat: the
  // same bytes every time.
  std::string Next();

 private:
  PayloadMode mode_;
  size_t size_;
  std::string pool_;  // kRandom: random bytes; kRepeat: the one payload
  size_t position_ = 0;
  uint64_t sequence_ = 0;
};

}  // namespace brokerbench
