// What a dead letter looks like: the original record plus dlq.* metadata headers, and which dead
// letters a filter selects.
#pragma once

#include <string>
#include <string_view>

#include "broker/delivery.h"
#include "broker/types.h"
#include "delivery/group_records.h"

namespace broker::delivery {

// "<topic>.<group>.dlq"
std::string DeadLetterTopic(std::string_view topic, std::string_view group);

// RFC 3339 UTC with microseconds: 2026-01-01T00:00:00.000000Z
std::string FormatTime(TimePoint t);

// The message appended to the dead-letter topic: the original key, payload and headers
// (traceparent, correlation ids and all) followed by dlq.original_topic, dlq.original_partition,
// dlq.original_offset, dlq.group, dlq.reason, dlq.attempts, dlq.last_error,
// dlq.first_delivery_at and dlq.dead_at.
Message BuildDeadLetterMessage(const Record& original, std::string_view topic,
                               std::string_view group, const DeadRecord& dead);

// The last error a nack (`text` = its error) or a reject (its reason) leaves on a message:
// `if_empty` for no text, else `text` cut to kMaxSettleTextBytes (broker/delivery.h), never in the
// middle of a UTF-8 character. Bounded because it is kept in the message's group record
// (rewritten with every later delivery) and copied into its dead letter's dlq.last_error header.
std::string SettleText(std::string_view text, std::string_view if_empty);

bool MatchesFilter(const DeadRecord& dead, const DeadLetterFilter& filter, TimePoint now);

}  // namespace broker::delivery
