// Fuzz target: the Kafka listener's request decoder (broker/kafka), which reads whatever a client
// sends. Malformed input must fail to decode, never crash, read out of bounds, hang, or allocate
// what a hostile count claims.
//
// Input: byte 0 picks what the rest is:
//   0: a request frame (without its size prefix): the header, then the body of its API and
//      version (group APIs included), for a Produce every partition's record batch, and for a
//      JoinGroup every protocol's metadata as a consumer subscription
//   1: the records of one produce partition, straight to the batch decoder
// Property beyond "no crash": a batch that decodes re-encodes to one that decodes to the same
// records.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "kafka/group_messages.h"
#include "kafka/messages.h"
#include "kafka/record_batch.h"

namespace broker::kafka {
namespace {

constexpr size_t kMaxInflated = 1 << 20;

void CheckBatch(std::string_view bytes) {
  DecodedBatch decoded = DecodeProduceBatch(bytes, kMaxInflated);
  if (decoded.error != ErrorCode::kNone) {
    FUZZ_CHECK(decoded.records.empty());
    return;
  }
  FUZZ_CHECK(!decoded.records.empty());
  DecodedBatch again =
      DecodeProduceBatch(EncodeProducerBatch(decoded.records, false), kMaxInflated);
  FUZZ_CHECK(again.error == ErrorCode::kNone);
  FUZZ_CHECK(again.records == decoded.records);
}

void CheckRequest(std::string_view frame) {
  Reader in(frame);
  RequestHeader header;
  if (!DecodeRequestHeader(in, header)) return;
  const ApiRange* api = FindApi(header.api_key);
  if (api == nullptr || header.api_version < api->min_version ||
      header.api_version > api->max_version) {
    return;
  }
  const int16_t v = header.api_version;
  switch (api->key) {
    case ApiKey::kApiVersions:
      DecodeApiVersionsRequest(in, v);
      return;
    case ApiKey::kMetadata: {
      MetadataRequest r;
      DecodeMetadataRequest(in, v, r);
      return;
    }
    case ApiKey::kCreateTopics: {
      CreateTopicsRequest r;
      DecodeCreateTopicsRequest(in, v, r);
      return;
    }
    case ApiKey::kListOffsets: {
      ListOffsetsRequest r;
      DecodeListOffsetsRequest(in, v, r);
      return;
    }
    case ApiKey::kFetch: {
      FetchRequest r;
      DecodeFetchRequest(in, v, r);
      return;
    }
    case ApiKey::kProduce: {
      ProduceRequest r;
      if (!DecodeProduceRequest(in, v, r)) return;
      for (const auto& topic : r.topics) {
        for (const auto& partition : topic.partitions) {
          if (partition.records) CheckBatch(*partition.records);
        }
      }
      return;
    }
    case ApiKey::kFindCoordinator: {
      FindCoordinatorRequest r;
      DecodeFindCoordinatorRequest(in, v, r);
      return;
    }
    case ApiKey::kJoinGroup: {
      JoinGroupRequest r;
      if (!DecodeJoinGroupRequest(in, v, r)) return;
      for (const auto& protocol : r.protocols) DecodeSubscriptionTopics(protocol.second);
      return;
    }
    case ApiKey::kSyncGroup: {
      SyncGroupRequest r;
      DecodeSyncGroupRequest(in, v, r);
      return;
    }
    case ApiKey::kHeartbeat: {
      HeartbeatRequest r;
      DecodeHeartbeatRequest(in, v, r);
      return;
    }
    case ApiKey::kLeaveGroup: {
      LeaveGroupRequest r;
      DecodeLeaveGroupRequest(in, v, r);
      return;
    }
    case ApiKey::kOffsetCommit: {
      OffsetCommitRequest r;
      DecodeOffsetCommitRequest(in, v, r);
      return;
    }
    case ApiKey::kOffsetFetch: {
      OffsetFetchRequest r;
      DecodeOffsetFetchRequest(in, v, r);
      return;
    }
    case ApiKey::kDescribeGroups: {
      DescribeGroupsRequest r;
      DecodeDescribeGroupsRequest(in, v, r);
      return;
    }
    case ApiKey::kInitProducerId: {
      InitProducerIdRequest r;
      DecodeInitProducerIdRequest(in, v, r);
      return;
    }
  }
}

}  // namespace
}  // namespace broker::kafka

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 2) {
    case 0:
      broker::kafka::CheckRequest(rest);
      break;
    case 1:
      broker::kafka::CheckBatch(rest);
      break;
  }
  return 0;
}
