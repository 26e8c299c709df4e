// MemoryLog: the log as GroupState reads it (LogSource), held in memory, for tests that drive
// GroupState without RocksDB.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "delivery/group_state.h"

namespace broker::delivery {

// Every record's timestamp.
inline const TimePoint kStart = TimePoint(std::chrono::microseconds(1'700'000'000'000'000));

// A log in memory: per partition, records at dense offsets from `first`.
class MemoryLog final : public LogSource {
 public:
  explicit MemoryLog(uint32_t partitions) : partitions_(partitions) {}

  uint64_t Append(uint32_t p, std::optional<std::string> key, std::string payload = "x") {
    Partition& part = partitions_[p];
    const uint64_t offset = part.first + part.records.size();
    part.records.push_back(
        Record{PartitionId(p), Offset(offset), kStart, std::move(key), std::move(payload), {}});
    return offset;
  }
  // Retention: everything below `first` is gone.
  void DeleteBelow(uint32_t p, uint64_t first) {
    Partition& part = partitions_[p];
    while (part.first < first && !part.records.empty()) {
      part.records.erase(part.records.begin());
      ++part.first;
    }
  }
  void FailReads(bool fail) { fail_ = fail; }

  uint64_t FirstOffset(uint32_t p) override { return partitions_[p].first; }
  uint64_t EndOffset(uint32_t p) override {
    return partitions_[p].first + partitions_[p].records.size();
  }
  Result<std::optional<Record>> ReadOne(uint32_t p, uint64_t offset) override {
    if (fail_) return Status::DataLoss("injected read error");
    if (offset < FirstOffset(p)) return std::optional<Record>();
    if (offset >= EndOffset(p)) return Status::Unavailable("past the end");
    return std::optional<Record>(partitions_[p].records[offset - partitions_[p].first]);
  }
  Result<ReadResult> ReadFrom(uint32_t p, uint64_t from, size_t max_records) override {
    if (fail_) return Status::DataLoss("injected read error");
    ReadResult result;
    result.first_offset = Offset(FirstOffset(p));
    result.end_offset = Offset(EndOffset(p));
    for (uint64_t o = std::max(from, FirstOffset(p));
         o < EndOffset(p) && result.records.size() < max_records; ++o) {
      result.records.push_back(partitions_[p].records[o - partitions_[p].first]);
    }
    return result;
  }

 private:
  struct Partition {
    uint64_t first = 0;
    std::vector<Record> records;
  };
  std::vector<Partition> partitions_;
  bool fail_ = false;
};

}  // namespace broker::delivery
