// How broker names become JetStream names and NATS subjects (docs/scale-out.md, "Mapping").
//
// Topic, group and member names may hold '.', which JetStream forbids in stream and consumer names
// and which separates subject tokens, so each name is escaped into one token: [A-Za-z0-9_-] stay,
// every other byte becomes "~" and two hex digits ('.' -> "~2e"). '~' never occurs in a valid
// topic or group name, so the escaping is one to one and names never collide.
//
//   topic "order.created"      -> stream "order~2ecreated"
//   partition p of that topic  -> subject "<prefix>.t.order~2ecreated.<p>"
//   group "email"              -> durable consumer "email"
//   member presence            -> subject "<prefix>.m.<topic>.<group>.<member>" (core NATS)
//   "someone serves topic"     -> subject "<prefix>.s.<topic>" (core NATS, queue group)
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/delivery.h"
#include "broker/status.h"

namespace broker::client::nats_internal {

std::string EscapeToken(std::string_view name);

std::string StreamName(std::string_view topic);
std::string ConsumerName(std::string_view group);
std::string PartitionSubject(std::string_view prefix, std::string_view topic, uint32_t partition);
std::string MemberSubject(std::string_view prefix, std::string_view topic, std::string_view group,
                          std::string_view member);
std::string ServeSubject(std::string_view prefix, std::string_view topic);

// The partition named by the last token of a record's subject, or nullopt if it is not a number.
std::optional<uint32_t> PartitionOfSubject(std::string_view subject);

// Group names match [A-Za-z0-9._-]{1,100}, as in the engine.
Status ValidateGroupName(std::string_view group);

// A group's full configuration, kept in the durable consumer's description so every member (and
// DescribeNatsGroup) uses the settings the group was created with, backoff policy included.
std::string EncodeGroupConfig(const GroupConfig& config);
std::optional<GroupConfig> DecodeGroupConfig(std::string_view description);

}  // namespace broker::client::nats_internal
