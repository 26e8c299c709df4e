// Metadata, CreateTopics and ListOffsets: topic-level requests answered from DescribeTopic,
// ListTopics and CreateTopic. One broker: every partition's leader, replica and in-sync replica is
// this node, which is also the controller.
#include <charconv>
#include <set>

#include "kafka/handler.h"

namespace broker::kafka {
namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::optional<int64_t> ParseInt(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  int64_t v = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// Applies one CreateTopics config entry; an error message if it is unknown or malformed.
std::optional<std::string> ApplyConfig(const CreateTopicsRequest::Config& c, TopicConfig& config) {
  const std::optional<int64_t> n = ParseInt(c.value);
  if (c.name == "cleanup.policy") {
    if (c.value == "delete") return std::nullopt;
    return "cleanup.policy '" + c.value.value_or("null") + "' is not supported (only delete)";
  }
  if (c.name == "retention.ms" && n && *n >= -1) {
    config.retention_age = std::chrono::milliseconds(*n == -1 ? 0 : *n);
    return std::nullopt;
  }
  if (c.name == "retention.bytes" && n && *n >= -1) {
    config.retention_bytes = *n == -1 ? 0 : static_cast<uint64_t>(*n);
    return std::nullopt;
  }
  if (c.name == "max.message.bytes" && n && *n > 0 && *n <= UINT32_MAX) {
    config.max_message_bytes = static_cast<uint32_t>(*n);
    return std::nullopt;
  }
  return "config '" + c.name + "'='" + c.value.value_or("null") +
         "' is not supported (retention.ms, retention.bytes, max.message.bytes, "
         "cleanup.policy=delete are)";
}

MetadataResponse::Topic DescribeForMetadata(const TopicInfo& info, int32_t node_id) {
  MetadataResponse::Topic topic{.error = 0, .name = info.name, .partitions = {}};
  for (const PartitionInfo& p : info.partitions) {
    topic.partitions.push_back(
        {.error = 0, .index = static_cast<int32_t>(p.partition.value()), .leader = node_id});
  }
  return topic;
}

}  // namespace

Reply RequestHandler::Metadata(const RequestHeader& header, Reader& in) {
  MetadataRequest request;
  if (!DecodeMetadataRequest(in, header.api_version, request)) return Reply{};
  MetadataResponse response;
  response.brokers.push_back({config_.node_id, config_.advertised_host, config_.advertised_port});
  response.cluster_id = config_.cluster_id;
  response.controller_id = config_.node_id;
  if (!request.topics) {
    auto topics = broker_.ListTopics();
    if (topics.ok()) {
      for (const TopicInfo& info : *topics) {
        if (info.name == OffsetLog::kTopic) continue;  // internal, as Kafka's __consumer_offsets
        response.topics.push_back(DescribeForMetadata(info, config_.node_id));
      }
    }
  } else {
    for (const std::string& name : *request.topics) {
      Result<TopicInfo> info = broker_.DescribeTopic(name);
      if (!info.ok() && info.status().code() == StatusCode::kNotFound &&
          config_.auto_create_topics && request.allow_auto_topic_creation) {
        Status created = broker_.CreateTopic(name, TopicConfig{});
        info = created.ok() || created.code() == StatusCode::kAlreadyExists
                   ? broker_.DescribeTopic(name)
                   : Result<TopicInfo>(created);
      }
      if (info.ok()) {
        response.topics.push_back(DescribeForMetadata(*info, config_.node_id));
      } else {
        response.topics.push_back(
            {.error = Wire(ToKafkaError(info.status(), true)), .name = name, .partitions = {}});
      }
    }
  }
  return {Reply::Kind::kRespond,
          EncodeMetadataResponse(header.correlation_id, header.api_version, response)};
}

Reply RequestHandler::CreateTopics(const RequestHeader& header, Reader& in) {
  CreateTopicsRequest request;
  if (!DecodeCreateTopicsRequest(in, header.api_version, request)) return Reply{};
  std::multiset<std::string> names;
  for (const auto& t : request.topics) names.insert(t.name);
  CreateTopicsResponse response;
  for (const CreateTopicsRequest::Topic& t : request.topics) {
    auto fail = [&](ErrorCode code, std::string message) {
      response.topics.push_back({t.name, Wire(code), std::move(message)});
    };
    if (names.count(t.name) > 1) {
      fail(ErrorCode::kInvalidRequest, "topic '" + t.name + "' appears more than once");
      continue;
    }
    if (t.assignments > 0) {
      fail(ErrorCode::kInvalidReplicaAssignment, "manual replica assignment is not supported");
      continue;
    }
    if (t.num_partitions == 0 || t.num_partitions < -1) {
      fail(ErrorCode::kInvalidPartitions, "number of partitions must be at least 1");
      continue;
    }
    if (t.replication_factor != -1 && t.replication_factor != 1) {
      fail(ErrorCode::kInvalidReplicationFactor, "replication factor " +
                                                     std::to_string(t.replication_factor) +
                                                     " is larger than the 1 available broker");
      continue;
    }
    TopicConfig config{.partitions =
                           t.num_partitions == -1 ? 1u : static_cast<uint32_t>(t.num_partitions)};
    std::optional<std::string> config_error;
    for (const auto& c : t.configs) {
      if (!config_error) config_error = ApplyConfig(c, config);
    }
    if (config_error) {
      fail(ErrorCode::kInvalidConfig, *config_error);
      continue;
    }
    Status status;
    if (request.validate_only) {
      Result<TopicInfo> existing = broker_.DescribeTopic(t.name);
      if (existing.ok()) {
        status = Status::AlreadyExists("topic '" + t.name + "' already exists");
      } else if (existing.status().code() != StatusCode::kNotFound) {
        status = existing.status();
      }
    } else {
      status = broker_.CreateTopic(t.name, config);
    }
    if (status.ok()) {
      response.topics.push_back({t.name, 0, std::nullopt});
    } else {
      fail(ToKafkaError(status, true), status.message());
    }
  }
  return {Reply::Kind::kRespond,
          EncodeCreateTopicsResponse(header.correlation_id, header.api_version, response)};
}

Reply RequestHandler::ListOffsets(const RequestHeader& header, Reader& in) {
  ListOffsetsRequest request;
  if (!DecodeListOffsetsRequest(in, header.api_version, request)) return Reply{};
  ListOffsetsResponse response;
  for (const ListOffsetsRequest::Topic& t : request.topics) {
    ListOffsetsResponse::Topic& out = response.topics.emplace_back();
    out.name = t.name;
    Result<TopicInfo> info = broker_.DescribeTopic(t.name);
    for (const ListOffsetsRequest::Partition& p : t.partitions) {
      ListOffsetsResponse::Partition& answer = out.partitions.emplace_back();
      answer.index = p.index;
      if (!info.ok()) {
        answer.error = Wire(ToKafkaError(info.status(), true));
        continue;
      }
      if (p.index < 0 || static_cast<size_t>(p.index) >= info->partitions.size()) {
        answer.error = Wire(ErrorCode::kUnknownTopicOrPartition);
        continue;
      }
      const PartitionInfo& part = info->partitions[static_cast<size_t>(p.index)];
      const auto first = static_cast<int64_t>(part.first_offset.value());
      const auto end = static_cast<int64_t>(part.end_offset.value());
      if (p.timestamp == kLatest) {
        answer.offset = end;
      } else if (p.timestamp == kEarliest) {
        answer.offset = first;
      } else if (p.timestamp < 0) {
        answer.error = Wire(ErrorCode::kInvalidRequest);
      } else {
        // The first record at or after the time: append times never decrease within a partition,
        // so a binary search over single-record reads finds it.
        int64_t lo = first;
        int64_t hi = end;
        std::optional<int64_t> found_ms;
        Status failed;
        while (lo < hi) {
          const int64_t mid = lo + (hi - lo) / 2;
          auto read = broker_.Read(t.name, PartitionId(static_cast<uint32_t>(p.index)),
                                   Offset(static_cast<uint64_t>(mid)), {.max_records = 1});
          if (!read.ok()) {
            failed = read.status();
            break;
          }
          if (read->records.empty()) {
            lo = std::max<int64_t>(mid + 1, static_cast<int64_t>(read->first_offset.value()));
            continue;
          }
          const Record& r = read->records.front();
          if (Millis(r.timestamp) >= p.timestamp) {
            hi = static_cast<int64_t>(r.offset.value());
            found_ms = Millis(r.timestamp);
          } else {
            lo = static_cast<int64_t>(r.offset.value()) + 1;
          }
        }
        if (!failed.ok()) {
          answer.error = Wire(ToKafkaError(failed, true));
        } else if (found_ms && lo < end) {
          answer.offset = lo;
          answer.timestamp = *found_ms;
        }
      }
    }
  }
  return {Reply::Kind::kRespond,
          EncodeListOffsetsResponse(header.correlation_id, header.api_version, response)};
}

}  // namespace broker::kafka
