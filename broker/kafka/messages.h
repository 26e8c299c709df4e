// Request and response bodies of the supported APIs, as plain structs, with their decoders and
// encoders for the supported versions. Field layouts follow Apache Kafka's JSON message
// definitions (clients/src/main/resources/common/message/*.json); fields of versions above what
// kSupportedApis advertises are left out. Byte views in requests (produce records) point into the
// request frame, which must outlive them.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/protocol.h"
#include "kafka/wire.h"

namespace broker::kafka {

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
};

// ---- Requests -------------------------------------------------------------------------------

struct MetadataRequest {
  std::optional<std::vector<std::string>> topics;  // nullopt: every topic
  bool allow_auto_topic_creation = true;           // v4+; before v4 always true
};

struct CreateTopicsRequest {
  struct Config {
    std::string name;
    std::optional<std::string> value;
  };
  struct Topic {
    std::string name;
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    int32_t assignments = 0;  // how many manual assignments were sent (refused)
    std::vector<Config> configs;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
  bool validate_only = false;  // v1+
};

struct ProduceRequest {
  struct Partition {
    int32_t index = 0;
    std::optional<std::string_view> records;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::optional<std::string> transactional_id;
  int16_t acks = -1;
  int32_t timeout_ms = 0;
  std::vector<Topic> topics;
};

struct FetchRequest {
  struct Partition {
    int32_t index = 0;
    int64_t fetch_offset = 0;
    int32_t max_bytes = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = INT32_MAX;
  int8_t isolation_level = 0;
  std::vector<Topic> topics;
};

struct ListOffsetsRequest {
  struct Partition {
    int32_t index = 0;
    int64_t timestamp = 0;  // -1 latest, -2 earliest, else a time in ms
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};

struct InitProducerIdRequest {
  std::optional<std::string> transactional_id;  // non-null: transactions (refused)
  int32_t transaction_timeout_ms = 0;
};

// Each decoder reads the whole body of `version` and returns false if it is malformed or has
// bytes left over.
bool DecodeRequestHeader(Reader& in, RequestHeader& header);
bool DecodeMetadataRequest(Reader& in, int16_t version, MetadataRequest& out);
bool DecodeCreateTopicsRequest(Reader& in, int16_t version, CreateTopicsRequest& out);
bool DecodeProduceRequest(Reader& in, int16_t version, ProduceRequest& out);
bool DecodeFetchRequest(Reader& in, int16_t version, FetchRequest& out);
bool DecodeListOffsetsRequest(Reader& in, int16_t version, ListOffsetsRequest& out);
bool DecodeApiVersionsRequest(Reader& in, int16_t version);
bool DecodeInitProducerIdRequest(Reader& in, int16_t version, InitProducerIdRequest& out);

// ---- Responses ------------------------------------------------------------------------------

struct MetadataResponse {
  struct Broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
  };
  struct Partition {
    int16_t error = 0;
    int32_t index = 0;
    int32_t leader = 0;
  };
  struct Topic {
    int16_t error = 0;
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Broker> brokers;
  std::string cluster_id;
  int32_t controller_id = 0;
  std::vector<Topic> topics;
};

struct CreateTopicsResponse {
  struct Topic {
    std::string name;
    int16_t error = 0;
    std::optional<std::string> error_message;
  };
  std::vector<Topic> topics;
};

struct ProduceResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error = 0;
    int64_t base_offset = -1;
    int64_t log_start_offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};

struct FetchResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error = 0;
    int64_t high_watermark = -1;
    int64_t log_start_offset = -1;
    std::string records;  // encoded batches
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};

struct ListOffsetsResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error = 0;
    int64_t timestamp = -1;
    int64_t offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};

// Each encoder writes a whole response frame: its int32 size, the response header (v0: the
// correlation id) and the body of `version`.
std::string EncodeApiVersionsResponse(int32_t correlation_id, int16_t version, int16_t error);
std::string EncodeMetadataResponse(int32_t correlation_id, int16_t version,
                                   const MetadataResponse& r);
std::string EncodeCreateTopicsResponse(int32_t correlation_id, int16_t version,
                                       const CreateTopicsResponse& r);
std::string EncodeProduceResponse(int32_t correlation_id, int16_t version,
                                  const ProduceResponse& r);
std::string EncodeFetchResponse(int32_t correlation_id, int16_t version, const FetchResponse& r);
std::string EncodeListOffsetsResponse(int32_t correlation_id, int16_t version,
                                      const ListOffsetsResponse& r);
std::string EncodeInitProducerIdResponse(int32_t correlation_id, int16_t version, int16_t error,
                                         int64_t producer_id, int16_t producer_epoch);

}  // namespace broker::kafka
