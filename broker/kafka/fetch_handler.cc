// Fetch: reads each requested partition from its fetch offset; if nothing at all is there (and no
// partition has an error), waits for records up to MaxWaitMs and reads once more. Records are
// served as v2 batches with the LogAppendTime attribute, one batch per run of records appended in
// the same millisecond, so every record keeps its broker timestamp.
#include <algorithm>
#include <chrono>

#include "kafka/handler.h"
#include "kafka/record_batch.h"

namespace broker::kafka {
namespace {

using SteadyClock = std::chrono::steady_clock;

// How long one wait on a partition lasts when a fetch waits on several: the engine can wait on
// one partition at a time, so several are watched in turn.
constexpr std::chrono::milliseconds kWaitSlice(10);
// Records per read; bytes are bounded by the request's limits.
constexpr size_t kMaxRecordsPerRead = 10000;

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct PartitionRead {
  size_t topic = 0;
  int32_t index = 0;
  int64_t offset = 0;
  int32_t max_bytes = 0;
};

// Encodes the records of one read (a null value restored from its marker header).
std::string EncodeRecords(const std::vector<Record>& records) {
  Writer out;
  std::vector<OutRecord> run;
  int64_t run_ms = 0;
  for (const Record& r : records) {
    const int64_t ms = Millis(r.timestamp);
    if (!run.empty() && ms != run_ms) {
      AppendBatch(out, run_ms, run);
      run.clear();
    }
    run_ms = ms;
    OutRecord o{.offset = static_cast<int64_t>(r.offset.value()),
                .key = r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
                .value = std::string_view(r.payload),
                .headers = &r.headers,
                .header_count = r.headers.size()};
    if (!r.headers.empty() && r.headers.back().first == kNullValueHeader) {
      o.value.reset();
      --o.header_count;
    }
    run.push_back(o);
  }
  if (!run.empty()) AppendBatch(out, run_ms, run);
  return out.Take();
}

}  // namespace

Reply RequestHandler::Fetch(const RequestHeader& header, Reader& in) {
  FetchRequest request;
  if (!DecodeFetchRequest(in, header.api_version, request)) return Reply{};
  const auto deadline =
      SteadyClock::now() +
      std::chrono::milliseconds(std::clamp(request.max_wait_ms, 0, config_.max_fetch_wait_ms));

  FetchResponse response;
  std::vector<PartitionRead> reads;
  for (size_t ti = 0; ti < request.topics.size(); ++ti) {
    const FetchRequest::Topic& t = request.topics[ti];
    FetchResponse::Topic& out = response.topics.emplace_back();
    out.name = t.name;
    for (const FetchRequest::Partition& p : t.partitions) {
      out.partitions.push_back({.index = p.index});
      reads.push_back({ti, p.index, p.fetch_offset, p.max_bytes});
    }
  }

  // One pass over every partition; true if any record or error is there to answer at once.
  auto read_all = [&]() {
    bool answer_now = false;
    int64_t budget = request.max_bytes > 0 ? request.max_bytes : INT32_MAX;
    size_t position = 0;
    for (size_t ti = 0; ti < request.topics.size(); ++ti) {
      for (FetchResponse::Partition& part : response.topics[ti].partitions) {
        const PartitionRead& read = reads[position++];
        const std::string& topic = response.topics[ti].name;
        part.records.clear();
        if (read.index < 0) {
          part.error = Wire(ErrorCode::kUnknownTopicOrPartition);
          answer_now = true;
          continue;
        }
        // The first partition with records gets at least one, even past the byte budget, so a
        // consumer always makes progress (as Kafka does).
        const int64_t limit =
            std::min<int64_t>(std::max(read.max_bytes, 1), std::max<int64_t>(budget, 1));
        const auto from = static_cast<uint64_t>(std::max<int64_t>(read.offset, 0));
        auto result = broker_.Read(
            topic, PartitionId(static_cast<uint32_t>(read.index)), Offset(from),
            {.max_records = kMaxRecordsPerRead, .max_bytes = static_cast<size_t>(limit)});
        if (!result.ok()) {
          part.error = Wire(result.status().code() == StatusCode::kInvalidArgument
                                ? ErrorCode::kUnknownTopicOrPartition
                                : ToKafkaError(result.status(), true));
          answer_now = true;
          continue;
        }
        part.high_watermark = static_cast<int64_t>(result->end_offset.value());
        part.log_start_offset = static_cast<int64_t>(result->first_offset.value());
        if (read.offset < part.log_start_offset || read.offset > part.high_watermark) {
          part.error = Wire(ErrorCode::kOffsetOutOfRange);
          answer_now = true;
          continue;
        }
        part.error = 0;
        if (result->records.empty() || budget <= 0) continue;
        part.records = EncodeRecords(result->records);
        budget -= static_cast<int64_t>(part.records.size());
        answer_now = true;
      }
    }
    return answer_now;
  };

  if (!read_all() && SteadyClock::now() < deadline && !reads.empty()) {
    // Nothing to serve yet: wait for an append to any of the partitions, then read again.
    bool woke = false;
    while (!woke) {
      const auto now = SteadyClock::now();
      if (now >= deadline) break;
      auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      if (remaining.count() == 0) remaining = std::chrono::milliseconds(1);
      for (const PartitionRead& read : reads) {
        const auto wait = reads.size() == 1 ? remaining : std::min(remaining, kWaitSlice);
        auto end = broker_.WaitForRecords(response.topics[read.topic].name,
                                          PartitionId(static_cast<uint32_t>(read.index)),
                                          Offset(static_cast<uint64_t>(read.offset)), wait);
        if (!end.ok() || end->value() > static_cast<uint64_t>(read.offset)) {
          woke = true;
          break;
        }
        if (SteadyClock::now() >= deadline) break;
      }
    }
    read_all();
  }
  return {Reply::Kind::kRespond,
          EncodeFetchResponse(header.correlation_id, header.api_version, response)};
}

}  // namespace broker::kafka
