// The --json shapes of brokerctl, one function per wire type. Field names are snake_case and
// stable; integers stay integers (microsecond times as *_us, with an RFC 3339 twin for times);
// bytes (keys, payloads, header values) are {"...": text, "..._encoding": "utf8"} when valid
// UTF-8, else base64 with encoding "base64".
#pragma once

#include <nlohmann/json.hpp>

#include "broker/v1/admin.pb.h"
#include "broker/v1/common.pb.h"

namespace brokerctl {

using Json = nlohmann::ordered_json;

Json TopicJson(const broker::v1::TopicInfo& topic);
Json GroupConfigJson(const broker::v1::GroupConfig& config);
// `with_position` adds partition, end_offset and ack_floor (per-partition rows, not totals).
Json LagJson(const broker::v1::PartitionLag& lag, bool with_position);
Json GroupJson(const broker::v1::GroupInfo& group);
Json HeaderJson(const broker::v1::Header& header);
Json RecordJson(const broker::v1::Record& record);
Json DeadLetterJson(const broker::v1::DeadLetter& letter, int64_t now_us);
Json MessageStateJson(const broker::v1::MessageGroupState& state);
Json StatsJson(const broker::v1::Stats& stats);

// The name of an Ordering / StartPosition as flags spell it: "per_key", "latest".
const char* OrderingName(broker::v1::Ordering ordering);
const char* StartName(broker::v1::StartPosition start);

}  // namespace brokerctl
