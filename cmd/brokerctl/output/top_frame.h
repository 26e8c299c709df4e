// TopFrame: what one refresh of `brokerctl top` shows, computed from two samples of the groups'
// lag (ListGroups) taken `elapsed` apart. Pure: no I/O, no clock; the command samples and prints.
//
//   publish rate = growth of the topic's end offsets; settle rate = growth of what the group has
//   settled (end offsets minus unsettled: acked, dead-lettered or expired); the oldest-unsettled
//   trend compares the two samples' ages (a message stuck at the head ages one second per second).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "broker/v1/admin.pb.h"
#include "output/json.h"

namespace brokerctl {

enum class AgeTrend { kNone, kRising, kSteady, kFalling };

// "rising", "steady", "falling", or "none" when nothing is unsettled.
const char* AgeTrendName(AgeTrend trend);

struct TopRow {
  std::string topic;
  std::string group;
  uint32_t members = 0;
  uint64_t published = 0;  // records appended to the topic between the samples
  uint64_t settled = 0;    // records the group settled between the samples
  double publish_per_s = 0;
  double settle_per_s = 0;
  uint64_t backlog = 0;
  uint64_t in_flight = 0;
  uint64_t delayed = 0;
  uint64_t unsettled = 0;
  int64_t oldest_unsettled_age_us = 0;
  AgeTrend trend = AgeTrend::kNone;
  uint64_t dlq_depth = 0;
};

// One sample: each group's lag, keyed by (topic, group).
using TopSample = std::map<std::pair<std::string, std::string>, broker::v1::GroupInfo>;

TopSample ToSample(const broker::v1::ListGroupsResponse& groups);

// Rows for the groups of `now`, in topic then group order. A group missing from `before` (created
// between the samples) gets zero rates.
std::vector<TopRow> ComputeTopRows(const TopSample& before, const TopSample& now,
                                   std::chrono::microseconds elapsed);

// "12.5k/s", "830/s", "0/s".
std::string HumanRate(double per_second);

Json TopRowJson(const TopRow& row);

}  // namespace brokerctl
