#include "payload.h"

#include <random>

namespace brokerbench {

std::string RandomPayload(size_t size) {
  std::random_device seed;
  std::mt19937_64 rng((static_cast<uint64_t>(seed()) << 32) | seed());
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() >> 56);
  return out;
}

}  // namespace brokerbench
