#include "commands/group_reset.h"

#include <memory>
#include <optional>

#include "commands/group_lookup.h"
#include "output/format.h"
#include "output/table.h"

namespace brokerctl {
namespace {

struct ResetArgs {
  std::string group;
  std::string topic;
  std::string to;
  std::optional<uint64_t> offset;
  std::string time;
  bool yes = false;
};

// "latest", "offset 42", "time 2026-11-24T21:00:00.000Z".
std::string Target(const v1::ResetGroupRequest& request) {
  switch (request.to_case()) {
    case v1::ResetGroupRequest::kEarliest: return "earliest";
    case v1::ResetGroupRequest::kLatest: return "latest";
    case v1::ResetGroupRequest::kOffset: return "offset " + std::to_string(request.offset());
    case v1::ResetGroupRequest::kTimeUs: return "time " + FormatUtc(request.time_us());
    case v1::ResetGroupRequest::TO_NOT_SET: return "?";
  }
  return "?";
}

Json TargetJson(const v1::ResetGroupRequest& request, const std::string& to) {
  Json j = {{"position", to}};
  if (request.to_case() == v1::ResetGroupRequest::kOffset) j["offset"] = request.offset();
  if (request.to_case() == v1::ResetGroupRequest::kTimeUs) {
    j["time_us"] = request.time_us();
    j["time"] = FormatUtc(request.time_us());
  }
  return j;
}

int Reset(Context& ctx, const ResetArgs& args) {
  v1::ResetGroupRequest request;
  request.set_group(args.group);
  if (args.to == "offset" && !args.offset) return ctx.Usage("--to offset needs --offset N");
  if (args.to != "offset" && args.offset) return ctx.Usage("--offset goes with --to offset");
  if (args.to != "time" && !args.time.empty()) return ctx.Usage("--time goes with --to time");
  if (args.to == "earliest") {
    request.set_earliest(true);
  } else if (args.to == "latest") {
    request.set_latest(true);
  } else if (args.to == "offset") {
    request.set_offset(*args.offset);
  } else {  // time (CLI11 allows nothing else)
    if (args.time.empty()) {
      return ctx.Usage("--to time needs --time (RFC 3339 UTC, or a duration ago such as 2h)");
    }
    if (auto at = ParseUtcTime(args.time)) {
      request.set_time_us(*at);
    } else if (auto ago = ParseDuration(args.time)) {
      request.set_time_us(NowMicros() - ago->count() * 1000);
    } else {
      return ctx.Usage("--time '" + args.time +
                       "' is neither an RFC 3339 UTC time (2026-01-02T15:04:05Z) nor a duration "
                       "ago (e.g. 2h)");
    }
  }

  int exit_code = kExitOk;
  auto topic = ResolveGroupTopic(ctx, args.group, args.topic, &exit_code);
  if (!topic) return exit_code;
  request.set_topic(*topic);
  v1::DescribeGroupRequest describe;
  describe.set_topic(*topic);
  describe.set_group(args.group);
  v1::GroupInfo before;
  if (!ctx.Admin(&AdminStub::DescribeGroup, describe, &before)) return kExitFailure;
  if (!args.yes) {
    return ctx.Usage("refusing to reset group '" + args.group + "' on '" + *topic + "' to " +
                     Target(request) + " without --yes: its position moves in every partition and "
                     "the state of its " + std::to_string(before.total().unsettled()) +
                     " unsettled messages (leases, delays, attempts) is dropped");
  }
  v1::GroupInfo after;
  if (!ctx.Admin(&AdminStub::ResetGroup, request, &after)) return kExitFailure;

  if (ctx.json()) {
    Json previous = Json::array();
    for (const auto& p : before.partitions()) {
      previous.push_back({{"partition", p.partition()},
                          {"ack_floor", p.ack_floor()},
                          {"unsettled", p.unsettled()}});
    }
    ctx.PrintJson({{"topic", *topic},
                   {"group", args.group},
                   {"to", TargetJson(request, args.to)},
                   {"before", std::move(previous)},
                   {"after", GroupJson(after)}});
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  out << "reset group '" << args.group << "' on '" << *topic << "' to " << Target(request) << "\n";
  Table table({{"PARTITION", Table::kRight},
               {"ACK_FLOOR", Table::kRight},
               {"UNSETTLED", Table::kRight}});
  auto arrow = [](uint64_t a, uint64_t b) { return std::to_string(a) + " -> " + std::to_string(b); };
  for (int i = 0; i < after.partitions_size(); ++i) {
    const auto& now = after.partitions(i);
    const v1::PartitionLag* old = i < before.partitions_size() ? &before.partitions(i) : nullptr;
    table.AddRow({std::to_string(now.partition()),
                  old ? arrow(old->ack_floor(), now.ack_floor()) : std::to_string(now.ack_floor()),
                  old ? arrow(old->unsettled(), now.unsettled()) : std::to_string(now.unsettled())});
  }
  table.AddRow({"total", "", arrow(before.total().unsettled(), after.total().unsettled())});
  table.Print(out);
  out << "dead letters stay: " << after.dlq_depth() << " in " << after.dlq_topic() << "\n";
  return kExitOk;
}

}  // namespace

void AddGroupResetCommand(CLI::App& groups, CommandEnv env) {
  auto args = std::make_shared<ResetArgs>();
  CLI::App* reset = groups.add_subcommand(
      "reset", "Move a group's position in every partition (--yes); no member may be subscribed");
  reset->add_option("group", args->group, "Group name")->required();
  reset->add_option("-t,--topic", args->topic, "The group's topic");
  reset->add_option("--to", args->to,
                    "earliest (first retained record), latest (the end), offset, time")
      ->required()
      ->check(CLI::IsMember({"earliest", "latest", "offset", "time"}));
  reset->add_option("--offset", args->offset,
                    "With --to offset: the offset, in every partition (clamped to what is retained)");
  reset->add_option("--time", args->time,
                    "With --to time: RFC 3339 UTC time, or a duration ago (e.g. 2h); the group "
                    "restarts at the first record published at or after it");
  reset->add_flag("-y,--yes", args->yes, "Really move the position");
  reset->footer(
      "Messages before the new position count as settled, messages from it on are delivered\n"
      "again. Unsettled state (leases, delays, attempt counts) is dropped; dead letters stay.\n\n"
      "Examples:\n"
      "  brokerctl groups reset email --to latest --yes             # skip the backlog\n"
      "  brokerctl groups reset email --to time --time 2h --yes     # replay the last 2 hours\n"
      "  brokerctl groups reset email --topic orders --to offset --offset 1200 --yes");
  OnRun(reset, env, [args](Context& ctx) { return Reset(ctx, *args); });
}

}  // namespace brokerctl
