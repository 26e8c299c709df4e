// Encoding of record batches (values of the log CF) and of their index entries (values of the
// log_index CF). Layout: docs/storage_format.md.
//
// Several records appended to one partition in one commit are stored under one key, as Kafka
// stores record batches: RocksDB's cost is per key, so this is what lifts throughput past its
// per-key ceiling.
//
// Thread safety: BatchEncoder/BatchDecoder are single-threaded values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/types.h"

namespace broker::storage {

inline constexpr uint8_t kBatchFormat = 1;

// Builds one batch value.
class BatchEncoder {
 public:
  BatchEncoder();
  // Appends a record; returns its encoded size (what partition byte counts and retention use).
  size_t Add(const Message& message, TimePoint timestamp);
  uint32_t count() const { return count_; }
  size_t size() const { return data_.size(); }
  TimePoint max_timestamp() const { return max_timestamp_; }
  // Finishes the value (patches the record count) and returns it; the encoder is reset.
  std::string Finish();
  // Finishes the value in place and returns a view of it, valid until the next Add or Reset. The
  // log writer copies it straight into its write batch and then calls Reset, so one buffer serves
  // every commit instead of a new one growing (and being copied on each doubling) per commit.
  std::string_view Seal();
  // Empties the encoder for the next batch, keeping its buffer's capacity.
  void Reset();
  size_t capacity() const { return data_.capacity(); }

 private:
  std::string data_;
  uint32_t count_ = 0;
  TimePoint max_timestamp_{};
};

// A decoded record pointing into the batch value it came from.
struct RecordView {
  TimePoint timestamp;
  bool has_key = false;
  std::string_view key;
  uint32_t header_count = 0;
  std::string_view headers_data;  // encoded header pairs, see DecodeHeaders
  std::string_view payload;
  size_t encoded_size = 0;
};

// Walks the records of one batch value in order.
class BatchDecoder {
 public:
  explicit BatchDecoder(std::string_view value);
  uint32_t count() const { return count_; }
  // False at the end or on corruption; check corrupt() to tell which.
  bool Next(RecordView& out);
  bool corrupt() const { return corrupt_; }
  // Where the next record starts, and how many were decoded before it: a decoder built again on
  // the same value resumes there with Resume (PartitionReadAhead keeps these between reads).
  size_t position() const { return pos_; }
  uint32_t seen() const { return seen_; }
  void Resume(size_t position, uint32_t seen);

 private:
  std::string_view value_;
  size_t pos_ = 0;
  uint32_t count_ = 0;
  uint32_t seen_ = 0;
  bool corrupt_ = false;
};

// Copies a RecordView's header pairs into `out`. False on corruption.
bool DecodeHeaders(const RecordView& view, Headers& out);

// Summary of one batch, stored in the log_index CF so retention and stats never read payloads.
struct BatchIndexEntry {
  uint32_t count = 0;
  uint64_t bytes = 0;
  TimePoint max_timestamp{};
};
std::string EncodeIndexEntry(const BatchIndexEntry& entry);
bool DecodeIndexEntry(std::string_view value, BatchIndexEntry& out);

// Size a message counts against max_message_bytes: key + payload + header names and values.
size_t MessageSize(const Message& message);
size_t HeaderBytes(const Headers& headers);

}  // namespace broker::storage
