#include "output/json.h"

#include "output/format.h"
#include "output/payload.h"

namespace brokerctl {
namespace {

void AddTime(Json& j, const std::string& name, int64_t micros) {
  j[name + "_us"] = micros;
  j[name] = micros == 0 ? Json(nullptr) : Json(FormatUtc(micros));
}

void AddBytes(Json& j, const std::string& name, const std::string& bytes) {
  EncodedBytes encoded = EncodeForJson(bytes);
  j[name] = std::move(encoded.data);
  j[name + "_encoding"] = encoded.encoding;
}

}  // namespace

const char* OrderingName(broker::v1::Ordering ordering) {
  switch (ordering) {
    case broker::v1::ORDERING_NONE: return "none";
    case broker::v1::ORDERING_PER_KEY: return "per_key";
    case broker::v1::ORDERING_PER_PARTITION: return "per_partition";
    default: return "unknown";  // proto3 enums are open
  }
}

const char* StartName(broker::v1::StartPosition start) {
  switch (start) {
    case broker::v1::START_POSITION_EARLIEST: return "earliest";
    case broker::v1::START_POSITION_LATEST: return "latest";
    default: return "unknown";  // proto3 enums are open
  }
}

Json TopicJson(const broker::v1::TopicInfo& topic) {
  Json j;
  j["name"] = topic.name();
  const auto& c = topic.config();
  j["config"] = {{"partitions", c.partitions()},
                 {"retention_age_ms", c.retention_age_ms()},
                 {"retention_bytes", c.retention_bytes()},
                 {"retention", c.retention() == broker::v1::RETENTION_POLICY_INTEREST
                                   ? "interest"
                                   : "limits"},
                 {"max_bytes", c.max_bytes()},
                 {"max_message_bytes", c.max_message_bytes()}};
  AddTime(j, "created_at", topic.created_at_us());
  uint64_t records = 0, bytes = 0;
  Json partitions = Json::array();
  for (const auto& p : topic.partitions()) {
    records += p.records();
    bytes += p.bytes();
    partitions.push_back({{"partition", p.partition()},
                          {"first_offset", p.first_offset()},
                          {"end_offset", p.end_offset()},
                          {"records", p.records()},
                          {"bytes", p.bytes()}});
  }
  j["records"] = records;
  j["bytes"] = bytes;
  j["partitions"] = std::move(partitions);
  return j;
}

Json GroupConfigJson(const broker::v1::GroupConfig& c) {
  return {{"start", StartName(c.start())},
          {"ordering", OrderingName(c.ordering())},
          {"ack_timeout_ms", c.ack_timeout_ms()},
          {"max_deliveries", c.max_deliveries()},
          {"backoff",
           {{"initial_ms", c.backoff_initial_ms()},
            {"multiplier", c.backoff_multiplier()},
            {"max_ms", c.backoff_max_ms()},
            {"jitter", c.backoff_jitter_disabled() ? 0.0 : c.backoff_jitter()}}}};
}

Json LagJson(const broker::v1::PartitionLag& lag, bool with_position) {
  Json j;
  if (with_position) {
    j["partition"] = lag.partition();
    j["end_offset"] = lag.end_offset();
    j["ack_floor"] = lag.ack_floor();
  }
  j["backlog"] = lag.backlog();
  j["in_flight"] = lag.in_flight();
  j["delayed"] = lag.delayed();
  j["unsettled"] = lag.unsettled();
  j["oldest_unsettled_age_us"] = lag.oldest_unsettled_age_us();
  j["expired"] = lag.expired();
  return j;
}

Json GroupJson(const broker::v1::GroupInfo& group) {
  Json j;
  j["topic"] = group.topic();
  j["group"] = group.group();
  j["config"] = GroupConfigJson(group.config());
  AddTime(j, "created_at", group.created_at_us());
  Json members = Json::array();
  for (const auto& m : group.members()) {
    Json owned = Json::array();
    for (uint32_t p : m.owned_partitions()) owned.push_back(p);
    members.push_back({{"name", m.name()},
                       {"max_in_flight", m.max_in_flight()},
                       {"leased", m.leased()},
                       {"owned_partitions", std::move(owned)}});
  }
  j["members"] = std::move(members);
  Json partitions = Json::array();
  for (const auto& p : group.partitions()) partitions.push_back(LagJson(p, true));
  j["partitions"] = std::move(partitions);
  j["total"] = LagJson(group.total(), false);
  j["dlq"] = {{"topic", group.dlq_topic()},
              {"depth", group.dlq_depth()},
              {"oldest_age_us", group.dlq_oldest_age_us()}};
  return j;
}

Json HeaderJson(const broker::v1::Header& header) {
  Json j;
  j["name"] = header.name();
  EncodedBytes value = EncodeForJson(header.value());
  j["value"] = std::move(value.data);
  j["encoding"] = value.encoding;
  return j;
}

Json RecordJson(const broker::v1::Record& record) {
  Json j;
  j["partition"] = record.partition();
  j["offset"] = record.offset();
  AddTime(j, "timestamp", record.timestamp_us());
  if (record.has_key()) {
    AddBytes(j, "key", record.key());
  } else {
    j["key"] = nullptr;
    j["key_encoding"] = nullptr;
  }
  Json headers = Json::array();
  for (const auto& h : record.headers()) headers.push_back(HeaderJson(h));
  j["headers"] = std::move(headers);
  j["payload_bytes"] = record.payload().size();
  AddBytes(j, "payload", record.payload());
  return j;
}

Json DeadLetterJson(const broker::v1::DeadLetter& letter, int64_t now_us) {
  Json j;
  j["original_partition"] = letter.original_partition();
  j["original_offset"] = letter.original_offset();
  j["reason"] = letter.reason();
  j["last_error"] = letter.last_error();
  j["attempts"] = letter.attempts();
  AddTime(j, "dead_at", letter.dead_at_us());
  j["age_us"] = letter.dead_at_us() == 0 ? 0 : std::max<int64_t>(0, now_us - letter.dead_at_us());
  j["record"] = RecordJson(letter.record());
  return j;
}

Json MessageStateJson(const broker::v1::MessageGroupState& s) {
  Json j;
  j["group"] = s.group();
  j["status"] = s.status();
  j["attempts"] = s.attempts();
  j["leased_by"] = s.leased_by().empty() ? Json(nullptr) : Json(s.leased_by());
  AddTime(j, "lease_expires", s.status() == "leased" ? s.lease_expires_us() : 0);
  AddTime(j, "delayed_until", s.status() == "delayed" ? s.delayed_until_us() : 0);
  j["last_error"] = s.last_error();
  return j;
}

Json StatsJson(const broker::v1::Stats& s) {
  return {{"version", s.version()},
          {"data_dir", s.data_dir()},
          {"uptime_s", s.uptime_s()},
          {"topics", s.topics()},
          {"groups", s.groups()},
          {"messages", s.messages()},
          {"publish_calls", s.publish_calls()},
          {"duplicates", s.duplicates()},
          {"commits", s.commits()},
          {"synced_commits", s.synced_commits()},
          {"synced_messages", s.synced_messages()}};
}

}  // namespace brokerctl
