#include "storage/log_reader.h"

#include <cstdint>
#include <memory>

#include <rocksdb/iterator.h>

#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/rocks_status.h"

namespace broker::storage {

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

  auto corrupt = [&](Offset base) {
    return Status::DataLoss("record batch at offset " + std::to_string(base.value()) + " of '" +
                            topic.name + "' partition " + std::to_string(partition.value()) +
                            " is corrupt");
  };
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
      Record record;
      record.partition = partition;
      record.offset = offset;
      record.timestamp = view.timestamp;
      if (view.has_key) record.key = std::string(view.key);
      record.payload = std::string(view.payload);
      if (!DecodeHeaders(view, record.headers)) return corrupt(parts.base_offset);
      bytes += view.encoded_size;
      result.records.push_back(std::move(record));
    }
    if (decoder.corrupt()) return corrupt(parts.base_offset);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading '" + topic.name + "'");
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
