#include "storage/log_reader.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/iterator.h>

#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/rocks_status.h"

namespace broker::storage {
namespace {

Status CorruptBatch(const TopicState& topic, PartitionId partition, uint64_t base) {
  return Status::DataLoss("record batch at offset " + std::to_string(base) + " of '" + topic.name +
                          "' partition " + std::to_string(partition.value()) + " is corrupt");
}

// Appends the record `view` (at `offset`) to `out`; false if its headers are corrupt.
bool AppendRecord(const RecordView& view, PartitionId partition, Offset offset,
                  std::vector<Record>& out) {
  Record& record = out.emplace_back();
  record.partition = partition;
  record.offset = offset;
  record.timestamp = view.timestamp;
  if (view.has_key) record.key = std::string(view.key);
  record.payload = std::string(view.payload);
  return DecodeHeaders(view, record.headers);
}

}  // namespace

Result<ReadResult> ReadPartition(const StorageDb& db, const TopicState& topic,
                                 PartitionId partition, Offset from, const ReadLimits& limits) {
  const PartitionState& state = *topic.partitions[partition.value()];
  ReadResult result;
  // end first: first_offset only grows, so this pair is never inverted.
  result.end_offset = Offset(state.end_offset.load());
  result.first_offset = Offset(state.first_offset.load());
  const Offset start = std::max(from, result.first_offset);
  if (start >= result.end_offset || limits.max_records == 0) return result;

  const TopicId id = topic.record.id;
  const std::string upper = LogKey(id, partition, result.end_offset);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(read_options, db.log()));

  const std::string prefix = PartitionPrefix(id, partition);
  // The batch holding `start` is the last one whose base offset is <= start.
  it->SeekForPrev(LogKey(id, partition, start));
  if (!it->Valid() || !it->key().starts_with(prefix)) it->Seek(LogKey(id, partition, start));

  auto corrupt = [&](Offset base) { return CorruptBatch(topic, partition, base.value()); };
  size_t bytes = 0;
  for (; it->Valid(); it->Next()) {
    LogKeyParts parts;
    if (!DecodeLogKey(it->key().ToStringView(), parts) || !it->key().starts_with(prefix)) break;
    BatchDecoder decoder(it->value().ToStringView());
    RecordView view;
    Offset offset = parts.base_offset;
    for (; decoder.Next(view); offset = offset + 1) {
      if (offset < start) continue;
      if (offset >= result.end_offset) return result;
      if (!result.records.empty() &&
          (result.records.size() >= limits.max_records || bytes + view.encoded_size > limits.max_bytes)) {
        return result;
      }
      if (!AppendRecord(view, partition, offset, result.records)) return corrupt(parts.base_offset);
      bytes += view.encoded_size;
    }
    if (decoder.corrupt()) return corrupt(parts.base_offset);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading '" + topic.name + "'");
  // Retention may have run since the bounds were read.
  result.first_offset = std::max(result.first_offset, Offset(state.first_offset.load()));
  return result;
}

void PartitionReadAhead::Clear() {
  std::string().swap(batch_);  // gives the memory back
  base_ = count_ = next_ = 0;
  position_ = 0;
}

Result<ReadResult> PartitionReadAhead::Read(const StorageDb& db, const TopicState& topic,
                                            PartitionId partition, Offset from,
                                            const ReadLimits& limits) {
  const PartitionState& state = *topic.partitions[partition.value()];
  ReadResult result;
  // end first: first_offset only grows, so this pair is never inverted.
  result.end_offset = Offset(state.end_offset.load());
  result.first_offset = Offset(state.first_offset.load());
  const uint64_t end = result.end_offset.value();
  uint64_t start = std::max(from, result.first_offset).value();
  if (start >= end || limits.max_records == 0) return result;

  const TopicId id = topic.record.id;
  const std::string prefix = PartitionPrefix(id, partition);
  // Opened only when the kept batch does not hold `start`; then walked forward batch by batch.
  std::string upper;
  rocksdb::Slice upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
  size_t bytes = 0;
  while (start < end) {
    if (batch_.empty() || start < base_ || start >= base_ + count_) {
      if (!it) {
        upper = LogKey(id, partition, result.end_offset);
        upper_slice = rocksdb::Slice(upper);
        rocksdb::ReadOptions read_options;
        read_options.iterate_upper_bound = &upper_slice;
        it.reset(db.db()->NewIterator(read_options, db.log()));
        // The batch holding `start` is the last one whose base offset is <= start.
        it->SeekForPrev(LogKey(id, partition, Offset(start)));
        if (!it->Valid() || !it->key().starts_with(prefix)) {
          it->Seek(LogKey(id, partition, Offset(start)));
        }
      } else {
        it->Next();
      }
      Clear();
      LogKeyParts parts;
      if (!it->Valid() || !it->key().starts_with(prefix) ||
          !DecodeLogKey(it->key().ToStringView(), parts)) {
        break;
      }
      batch_.assign(it->value().data(), it->value().size());
      const BatchDecoder header(batch_);
      if (header.corrupt()) {
        Clear();
        return CorruptBatch(topic, partition, parts.base_offset.value());
      }
      base_ = next_ = parts.base_offset.value();
      count_ = header.count();
      position_ = header.position();
      if (base_ + count_ <= start) continue;  // ends before `start` (retention left a gap)
      start = std::max(start, base_);         // records before it were deleted by retention
    }

    BatchDecoder decoder(batch_);
    uint64_t offset = base_;
    if (start >= next_) {  // resume where the last read stopped rather than from the front
      decoder.Resume(position_, static_cast<uint32_t>(next_ - base_));
      offset = next_;
    }
    RecordView view;
    for (;;) {
      const size_t at = decoder.position();
      if (!decoder.Next(view)) break;
      if (offset < start) {
        ++offset;
        continue;
      }
      if (offset >= end ||
          (!result.records.empty() && (result.records.size() >= limits.max_records ||
                                       bytes + view.encoded_size > limits.max_bytes))) {
        next_ = offset;  // the next read starts here
        position_ = at;
        result.first_offset = std::max(result.first_offset, Offset(state.first_offset.load()));
        return result;
      }
      if (!AppendRecord(view, partition, Offset(offset), result.records)) {
        const uint64_t base = base_;
        Clear();
        return CorruptBatch(topic, partition, base);
      }
      bytes += view.encoded_size;
      ++offset;
    }
    if (decoder.corrupt() || offset != base_ + count_) {
      const uint64_t base = base_;
      Clear();
      return CorruptBatch(topic, partition, base);
    }
    start = offset;  // this batch is read to its end; the next one follows
    Clear();
  }
  if (it && !it->status().ok()) return FromRocks(it->status(), "reading '" + topic.name + "'");
  // Retention may have run since the bounds were read.
  result.first_offset = std::max(result.first_offset, Offset(state.first_offset.load()));
  return result;
}

Result<Offset> OffsetForTime(const StorageDb& db, const TopicState& topic, PartitionId partition,
                             TimePoint time) {
  const PartitionState& state = *topic.partitions[partition.value()];
  const Offset end(state.end_offset.load());
  const std::string prefix = PartitionPrefix(topic.record.id, partition);
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator({}, db.log_index()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    BatchIndexEntry entry;
    LogKeyParts parts;
    if (!DecodeLogKey(it->key().ToStringView(), parts) ||
        !DecodeIndexEntry(it->value().ToStringView(), entry)) {
      return Status::DataLoss("index of '" + topic.name + "' is corrupt");
    }
    if (entry.max_timestamp < time) continue;
    // The answer is inside this batch: timestamps within a partition never decrease.
    auto read = ReadPartition(db, topic, partition, parts.base_offset,
                              ReadLimits{.max_records = entry.count, .max_bytes = SIZE_MAX});
    if (!read.ok()) return read.status();
    for (const Record& r : read->records) {
      if (r.timestamp >= time) return r.offset;
    }
    return parts.base_offset + entry.count;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning '" + topic.name + "'");
  return end;
}

}  // namespace broker::storage
