#include "output/top_frame.h"

#include <cmath>
#include <cstdio>

namespace brokerctl {
namespace {

// Settled records: everything appended minus what is still unsettled. Never goes down unless
// the group is reset to an earlier position.
uint64_t Settled(const broker::v1::GroupInfo& g) {
  const uint64_t end = g.total().end_offset();
  const uint64_t unsettled = g.total().unsettled();
  return end > unsettled ? end - unsettled : 0;
}

// A counter's growth; a reset (or a topic deleted and re-created) counts as none rather than
// as a huge negative rate.
uint64_t Growth(uint64_t before, uint64_t now) { return now > before ? now - before : 0; }

AgeTrend Trend(const broker::v1::GroupInfo* before, const broker::v1::GroupInfo& now,
               std::chrono::microseconds elapsed) {
  if (now.total().unsettled() == 0) return AgeTrend::kNone;
  if (before == nullptr || before->total().unsettled() == 0) return AgeTrend::kRising;
  const int64_t change = now.total().oldest_unsettled_age_us() -
                         before->total().oldest_unsettled_age_us();
  // A tenth of the interval either way is noise (consumers keeping pace move the head about as
  // fast as time passes).
  const int64_t noise = elapsed.count() / 10;
  if (change > noise) return AgeTrend::kRising;
  if (change < -noise) return AgeTrend::kFalling;
  return AgeTrend::kSteady;
}

}  // namespace

const char* AgeTrendName(AgeTrend trend) {
  switch (trend) {
    case AgeTrend::kNone:
      return "none";
    case AgeTrend::kRising:
      return "rising";
    case AgeTrend::kSteady:
      return "steady";
    case AgeTrend::kFalling:
      return "falling";
  }
  return "none";
}

TopSample ToSample(const broker::v1::ListGroupsResponse& groups) {
  TopSample sample;
  for (const auto& g : groups.groups()) sample[{g.topic(), g.group()}] = g;
  return sample;
}

std::vector<TopRow> ComputeTopRows(const TopSample& before, const TopSample& now,
                                   std::chrono::microseconds elapsed) {
  const double seconds = std::max(1e-6, static_cast<double>(elapsed.count()) / 1e6);
  std::vector<TopRow> rows;
  for (const auto& [key, g] : now) {
    auto it = before.find(key);
    const broker::v1::GroupInfo* prev = it == before.end() ? nullptr : &it->second;
    TopRow row;
    row.topic = g.topic();
    row.group = g.group();
    row.members = static_cast<uint32_t>(g.members_size());
    if (prev != nullptr) {
      row.published = Growth(prev->total().end_offset(), g.total().end_offset());
      row.settled = Growth(Settled(*prev), Settled(g));
    }
    row.publish_per_s = static_cast<double>(row.published) / seconds;
    row.settle_per_s = static_cast<double>(row.settled) / seconds;
    row.backlog = g.total().backlog();
    row.in_flight = g.total().in_flight();
    row.delayed = g.total().delayed();
    row.unsettled = g.total().unsettled();
    row.oldest_unsettled_age_us = g.total().oldest_unsettled_age_us();
    row.trend = Trend(prev, g, elapsed);
    row.dlq_depth = g.dlq_depth();
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string HumanRate(double per_second) {
  char text[32];
  if (per_second >= 1e6) {
    std::snprintf(text, sizeof(text), "%.1fM/s", per_second / 1e6);
  } else if (per_second >= 1e4) {
    std::snprintf(text, sizeof(text), "%.1fk/s", per_second / 1e3);
  } else if (per_second >= 10 || per_second == 0) {
    std::snprintf(text, sizeof(text), "%.0f/s", std::round(per_second));
  } else {
    std::snprintf(text, sizeof(text), "%.1f/s", per_second);
  }
  return text;
}

Json TopRowJson(const TopRow& row) {
  return {{"topic", row.topic},
          {"group", row.group},
          {"members", row.members},
          {"published", row.published},
          {"settled", row.settled},
          {"publish_per_s", row.publish_per_s},
          {"settle_per_s", row.settle_per_s},
          {"backlog", row.backlog},
          {"in_flight", row.in_flight},
          {"delayed", row.delayed},
          {"unsettled", row.unsettled},
          {"oldest_unsettled_age_us", row.oldest_unsettled_age_us},
          {"oldest_trend", AgeTrendName(row.trend)},
          {"dlq_depth", row.dlq_depth}};
}

}  // namespace brokerctl
