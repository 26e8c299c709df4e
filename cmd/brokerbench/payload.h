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
#include <random>
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
  // The next message's payload: fresh random bytes (kRandom) or the same bytes every time
  // (kRepeat).
  std::string Next();

 private:
  void Fill(std::string& out);

  PayloadMode mode_;
  size_t size_;
  std::mt19937_64 rng_;
  std::string repeated_;  // kRepeat only
};

}  // namespace brokerbench
