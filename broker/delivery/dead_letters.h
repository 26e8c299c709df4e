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

bool MatchesFilter(const DeadRecord& dead, const DeadLetterFilter& filter, TimePoint now);

}  // namespace broker::delivery
