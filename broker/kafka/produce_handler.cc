// Produce: each partition's batch is decoded completely (CRC, gzip, every record) and published
// to that partition in one atomic PublishAsync, so a partition is appended all or nothing. The
// response is sent once every partition's publish has completed; acks=0 sends none. An idempotent
// producer's batch is checked for sequence gaps and published with one dedupe key per record
// (producer_sequences.h); InitProducerId hands out the producer ids.
#include <mutex>

#include "kafka/handler.h"
#include "kafka/record_batch.h"

namespace broker::kafka {
namespace {

// Collects the partitions' results; the last one to complete encodes the response.
struct PendingProduce {
  std::mutex mu;
  ProduceResponse response;  // guarded by mu
  size_t remaining = 0;      // guarded by mu
  RequestHeader header;
  bool respond = true;
  RequestHandler::Done done;

  void Complete(size_t topic, size_t partition, ErrorCode error, int64_t base_offset,
                int64_t log_start) {
    std::unique_lock lock(mu);
    ProduceResponse::Partition& p = response.topics[topic].partitions[partition];
    p.error = Wire(error);
    p.base_offset = base_offset;
    p.log_start_offset = log_start;
    Release(lock);
  }

  // Counts one completion down; the last one sends the reply.
  void Release(std::unique_lock<std::mutex>& lock) {
    if (--remaining > 0) return;
    lock.unlock();
    if (!respond) return done({Reply::Kind::kNoResponse, {}});
    done({Reply::Kind::kRespond,
          EncodeProduceResponse(header.correlation_id, header.api_version, response)});
  }
};

// The engine messages of a decoded batch; false if a record uses the reserved header name.
bool ToMessages(std::vector<KafkaRecord>& records, std::vector<Message>& out) {
  out.reserve(records.size());
  for (KafkaRecord& r : records) {
    for (const auto& h : r.headers) {
      if (h.first == kNullValueHeader) return false;
    }
    Message m{.key = std::move(r.key),
              .payload = {},
              .headers = std::move(r.headers),
              .idempotency_key = {}};
    if (r.value) {
      m.payload = std::move(*r.value);
    } else {
      m.headers.emplace_back(std::string(kNullValueHeader), std::string());
    }
    out.push_back(std::move(m));
  }
  return true;
}

}  // namespace

void RequestHandler::Produce(const RequestHeader& header, Reader& in, Done done) {
  ProduceRequest request;
  if (!DecodeProduceRequest(in, header.api_version, request)) return done(Reply{});
  auto pending = std::make_shared<PendingProduce>();
  pending->header = header;
  pending->respond = request.acks != 0;
  pending->done = std::move(done);
  size_t total = 0;
  for (const auto& t : request.topics) {
    ProduceResponse::Topic& out = pending->response.topics.emplace_back();
    out.name = t.name;
    for (const auto& p : t.partitions) out.partitions.push_back({.index = p.index});
    total += t.partitions.size();
  }
  // One extra count held until every partition has been started, so a publish completing at once
  // cannot send the response before the others are in it.
  pending->remaining = total + 1;

  // acks=-1 waits for the broker's durability (sync: fsynced); acks=1 and 0 for the write to
  // reach the OS (async).
  PublishOptions options;
  if (request.acks != -1) options.durability = Durability::kAsync;
  for (size_t ti = 0; ti < request.topics.size(); ++ti) {
    const ProduceRequest::Topic& t = request.topics[ti];
    Result<TopicInfo> info = broker_.DescribeTopic(t.name);
    for (size_t pi = 0; pi < t.partitions.size(); ++pi) {
      const ProduceRequest::Partition& p = t.partitions[pi];
      auto fail = [&](ErrorCode code) { pending->Complete(ti, pi, code, -1, -1); };
      if (request.acks != -1 && request.acks != 0 && request.acks != 1) {
        fail(ErrorCode::kInvalidRequiredAcks);
        continue;
      }
      if (request.transactional_id) {
        fail(ErrorCode::kInvalidRequest);  // no transactions
        continue;
      }
      if (!info.ok() || t.name == OffsetLog::kTopic) {  // the commits' topic is the listener's
        fail(info.ok() ? ErrorCode::kInvalidTopic : ToKafkaError(info.status(), true));
        continue;
      }
      if (p.index < 0 || static_cast<size_t>(p.index) >= info->partitions.size()) {
        fail(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      const auto log_start =
          static_cast<int64_t>(info->partitions[static_cast<size_t>(p.index)].first_offset.value());
      if (!p.records) {
        fail(ErrorCode::kInvalidRecord);
        continue;
      }
      DecodedBatch batch = DecodeProduceBatch(*p.records, config_.max_inflated_batch_bytes);
      if (batch.error != ErrorCode::kNone) {
        fail(batch.error);
        continue;
      }
      std::vector<Message> messages;
      if (!ToMessages(batch.records, messages)) {
        fail(ErrorCode::kInvalidRecord);
        continue;
      }
      if (batch.producer_id >= 0) {
        const ErrorCode sequence =
            sequences_.Check(batch.producer_id, batch.producer_epoch, t.name, p.index,
                             batch.base_sequence, static_cast<int32_t>(messages.size()));
        if (sequence != ErrorCode::kNone) {
          fail(sequence);
          continue;
        }
        for (size_t i = 0; i < messages.size(); ++i) {
          messages[i].idempotency_key = ProducerSequences::DedupeKey(
              batch.producer_id, batch.producer_epoch, t.name, p.index,
              static_cast<int64_t>(batch.base_sequence) + static_cast<int64_t>(i));
        }
      }
      options.partition = PartitionId(static_cast<uint32_t>(p.index));
      broker_.PublishAsync(
          t.name, std::move(messages), options,
          [pending, ti, pi, log_start](Result<std::vector<PublishResult>> r) {
            if (!r.ok()) {
              return pending->Complete(ti, pi, ToKafkaError(r.status(), false), -1, -1);
            }
            pending->Complete(ti, pi, ErrorCode::kNone,
                              static_cast<int64_t>(r->front().offset.value()), log_start);
          });
    }
  }
  std::unique_lock lock(pending->mu);
  pending->Release(lock);
}

Reply RequestHandler::InitProducerId(const RequestHeader& header, Reader& in) {
  InitProducerIdRequest request;
  if (!DecodeInitProducerIdRequest(in, header.api_version, request)) return Reply{};
  // Transactions are not supported: a transactional id is refused (kafkajs and librdkafka treat
  // INVALID_REQUEST as fatal, so the producer fails at once instead of retrying).
  const bool transactional = request.transactional_id.has_value();
  return {Reply::Kind::kRespond,
          EncodeInitProducerIdResponse(
              header.correlation_id, header.api_version,
              Wire(transactional ? ErrorCode::kInvalidRequest : ErrorCode::kNone),
              transactional ? -1 : sequences_.NewProducerId(), transactional ? -1 : 0)};
}

}  // namespace broker::kafka
