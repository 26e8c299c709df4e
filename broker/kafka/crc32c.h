// CRC-32C (Castagnoli), the checksum of Kafka's record batches v2. Debian packages no C/C++
// CRC-32C library (RocksDB's is internal, not in its installed headers), so it is computed here
// from its definition: a table-driven reflected CRC with polynomial 0x82F63B78.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace broker::kafka {

uint32_t Crc32c(std::string_view data);

}  // namespace broker::kafka
