#include "commands/groups.h"

#include <memory>
#include <optional>

#include "commands/group_lookup.h"
#include "commands/group_reset.h"
#include "output/format.h"
#include "output/table.h"

namespace brokerctl {
namespace {

// ---- Rendering ---------------------------------------------------------------------------------

std::string Millis(int64_t ms) { return HumanDuration(ms * 1000); }

std::string ConfigLine(const v1::GroupConfig& c) {
  std::string line = std::string("start=") + StartName(c.start()) +
                     " ordering=" + OrderingName(c.ordering()) +
                     " ack_timeout=" + Millis(c.ack_timeout_ms()) +
                     " max_deliveries=" + std::to_string(c.max_deliveries());
  char multiplier[32];
  std::snprintf(multiplier, sizeof(multiplier), "%g", c.backoff_multiplier());
  line += " backoff=" + Millis(c.backoff_initial_ms()) + " x" + multiplier + " up to " +
          Millis(c.backoff_max_ms());
  const double jitter = c.backoff_jitter_disabled() ? 0 : c.backoff_jitter();
  line += " jitter=" + std::to_string(static_cast<int>(jitter * 100 + 0.5)) + "%";
  return line;
}

void AddLagCells(std::vector<std::string>& row, const v1::PartitionLag& lag) {
  row.push_back(std::to_string(lag.backlog()));
  row.push_back(std::to_string(lag.in_flight()));
  row.push_back(std::to_string(lag.delayed()));
  row.push_back(std::to_string(lag.unsettled()));
  row.push_back(HumanAge(lag.oldest_unsettled_age_us()));
}

void PrintGroupList(Context& ctx, const v1::ListGroupsResponse& groups) {
  Table table({{"TOPIC"},
               {"GROUP"},
               {"MEMBERS", Table::kRight},
               {"BACKLOG", Table::kRight},
               {"IN_FLIGHT", Table::kRight},
               {"DELAYED", Table::kRight},
               {"UNSETTLED", Table::kRight},
               {"OLDEST", Table::kRight},
               {"DLQ", Table::kRight}});
  for (const auto& g : groups.groups()) {
    std::vector<std::string> row = {g.topic(), g.group(), std::to_string(g.members_size())};
    AddLagCells(row, g.total());
    row.push_back(std::to_string(g.dlq_depth()));
    table.AddRow(std::move(row));
  }
  table.Print(ctx.out());
}

struct Lease {
  std::string member;
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint32_t attempts = 0;
  int64_t expires_us = 0;
};

// Finds the group's leases by asking for the state of each unsettled offset (from the ack floor
// up, at most `scan_limit` per partition, stopping once in_flight leases are found). The admin
// plane has no call listing leases directly.
bool FindLeases(Context& ctx, const v1::GroupInfo& group, uint64_t scan_limit,
                std::vector<Lease>* leases, bool* truncated) {
  for (const auto& p : group.partitions()) {
    uint64_t found = 0;
    uint64_t offset = p.ack_floor();
    const uint64_t end = std::min(p.end_offset(), p.ack_floor() + scan_limit);
    for (; offset < end && found < p.in_flight(); ++offset) {
      v1::GetMessageRequest request;
      request.set_topic(group.topic());
      request.set_partition(p.partition());
      request.set_offset(offset);
      v1::GetMessageResponse response;
      Connection* conn = ctx.Connect();
      if (conn == nullptr) return false;
      grpc::Status status = conn->Call(conn->admin(), &AdminStub::GetMessage, request, &response);
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) continue;  // deleted by retention
      if (!status.ok()) {
        ctx.RpcFailed(status);
        return false;
      }
      for (const auto& state : response.groups()) {
        if (state.group() != group.group() || state.status() != "leased") continue;
        leases->push_back({state.leased_by(), p.partition(), offset, state.attempts(),
                           state.lease_expires_us()});
        ++found;
      }
    }
    if (found < p.in_flight()) *truncated = true;
  }
  return true;
}

// ---- Commands ----------------------------------------------------------------------------------

int ListGroups(Context& ctx, const std::string& topic) {
  v1::ListGroupsRequest request;
  request.set_topic(topic);
  v1::ListGroupsResponse response;
  if (!ctx.Admin(&AdminStub::ListGroups, request, &response)) return kExitFailure;
  if (ctx.json()) {
    Json groups = Json::array();
    for (const auto& g : response.groups()) groups.push_back(GroupJson(g));
    ctx.PrintJson({{"groups", std::move(groups)}});
    return kExitOk;
  }
  if (response.groups().empty()) {
    ctx.out() << (topic.empty() ? "no consumer groups\n" : "no consumer groups on '" + topic + "'\n");
    return kExitOk;
  }
  PrintGroupList(ctx, response);
  return kExitOk;
}

struct DescribeGroupArgs {
  std::string group;
  std::string topic;
  bool leases = false;
  uint64_t scan_limit = 1000;
};

int DescribeGroup(Context& ctx, const DescribeGroupArgs& args) {
  int exit_code = kExitOk;
  auto topic = ResolveGroupTopic(ctx, args.group, args.topic, &exit_code);
  if (!topic) return exit_code;
  v1::DescribeGroupRequest request;
  request.set_topic(*topic);
  request.set_group(args.group);
  v1::GroupInfo group;
  if (!ctx.Admin(&AdminStub::DescribeGroup, request, &group)) return kExitFailure;
  std::vector<Lease> leases;
  bool truncated = false;
  if (args.leases && !FindLeases(ctx, group, args.scan_limit, &leases, &truncated)) {
    return kExitFailure;
  }

  if (ctx.json()) {
    Json j = GroupJson(group);
    if (args.leases) {
      Json list = Json::array();
      for (const Lease& l : leases) {
        list.push_back({{"member", l.member},
                        {"partition", l.partition},
                        {"offset", l.offset},
                        {"attempts", l.attempts},
                        {"expires_at_us", l.expires_us},
                        {"expires_at", FormatUtc(l.expires_us)}});
      }
      j["leases"] = std::move(list);
      j["leases_complete"] = !truncated;
    }
    ctx.PrintJson(j);
    return kExitOk;
  }

  std::ostream& out = ctx.out();
  KeyValues fields;
  fields.Add("group", group.group());
  fields.Add("topic", group.topic());
  fields.Add("config", ConfigLine(group.config()));
  fields.Add("created", FormatUtc(group.created_at_us()));
  fields.Add("lag", std::to_string(group.total().unsettled()) + " unsettled, oldest " +
                        HumanAge(group.total().oldest_unsettled_age_us()));
  std::string dlq = std::to_string(group.dlq_depth()) + " in " + group.dlq_topic();
  if (group.dlq_depth() > 0) dlq += ", oldest " + HumanAge(group.dlq_oldest_age_us());
  fields.Add("dead letters", dlq);
  fields.Print(out);
  out << "\n";

  Table lag({{"PARTITION", Table::kRight},
             {"END", Table::kRight},
             {"ACK_FLOOR", Table::kRight},
             {"BACKLOG", Table::kRight},
             {"IN_FLIGHT", Table::kRight},
             {"DELAYED", Table::kRight},
             {"UNSETTLED", Table::kRight},
             {"OLDEST", Table::kRight},
             {"EXPIRED", Table::kRight}});
  for (const auto& p : group.partitions()) {
    std::vector<std::string> row = {std::to_string(p.partition()), std::to_string(p.end_offset()),
                                    std::to_string(p.ack_floor())};
    AddLagCells(row, p);
    row.push_back(std::to_string(p.expired()));
    lag.AddRow(std::move(row));
  }
  std::vector<std::string> total = {"total", "", ""};
  AddLagCells(total, group.total());
  total.push_back(std::to_string(group.total().expired()));
  lag.AddRow(std::move(total));
  lag.Print(out);
  out << "\n";

  if (group.members().empty()) {
    out << "members: none subscribed\n";
  } else {
    Table members({{"MEMBER"},
                   {"MAX_IN_FLIGHT", Table::kRight},
                   {"LEASED", Table::kRight},
                   {"PARTITIONS"}});
    for (const auto& m : group.members()) {
      std::string owned;
      for (uint32_t p : m.owned_partitions()) owned += (owned.empty() ? "" : ",") + std::to_string(p);
      members.AddRow({m.name(), std::to_string(m.max_in_flight()), std::to_string(m.leased()),
                      owned.empty() ? "-" : owned});
    }
    members.Print(out);
  }
  if (args.leases) {
    out << "\n";
    if (leases.empty()) {
      out << "leases: none\n";
    } else {
      Table table({{"MEMBER"},
                   {"PARTITION", Table::kRight},
                   {"OFFSET", Table::kRight},
                   {"ATTEMPT", Table::kRight},
                   {"EXPIRES_IN", Table::kRight}});
      const int64_t now = NowMicros();
      for (const Lease& l : leases) {
        table.AddRow({l.member, std::to_string(l.partition), std::to_string(l.offset),
                      std::to_string(l.attempts), HumanDuration(l.expires_us - now)});
      }
      table.Print(out);
    }
    if (truncated) {
      out << "(some leases lie beyond the first " << args.scan_limit
          << " unsettled offsets scanned per partition; raise --scan-limit)\n";
    }
  }
  return kExitOk;
}

struct CreateGroupArgs {
  std::string group;
  std::string topic;
  std::string start = "earliest";
  std::string ordering = "none";
  std::string ack_timeout;
  uint32_t max_deliveries = 0;
};

int CreateGroup(Context& ctx, const CreateGroupArgs& args) {
  v1::CreateGroupRequest request;
  request.set_topic(args.topic);
  request.set_group(args.group);
  v1::GroupConfig* c = request.mutable_config();
  c->set_start(args.start == "latest" ? v1::START_POSITION_LATEST : v1::START_POSITION_EARLIEST);
  c->set_ordering(args.ordering == "per_key"         ? v1::ORDERING_PER_KEY
                  : args.ordering == "per_partition" ? v1::ORDERING_PER_PARTITION
                                                     : v1::ORDERING_NONE);
  if (!args.ack_timeout.empty()) c->set_ack_timeout_ms(ParseDuration(args.ack_timeout)->count());
  c->set_max_deliveries(args.max_deliveries);
  v1::GroupInfo group;
  if (!ctx.Admin(&AdminStub::CreateGroup, request, &group)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson(GroupJson(group));
  } else {
    ctx.out() << "created group '" << group.group() << "' on '" << group.topic() << "' ("
              << ConfigLine(group.config()) << ")\n";
  }
  return kExitOk;
}

int DeleteGroup(Context& ctx, const std::string& group, const std::string& topic_flag, bool yes) {
  if (!yes) {
    return ctx.Usage("refusing to delete group '" + group +
                     "' (its positions, leases and dead-letter bookkeeping) without --yes");
  }
  int exit_code = kExitOk;
  auto topic = ResolveGroupTopic(ctx, group, topic_flag, &exit_code);
  if (!topic) return exit_code;
  v1::DeleteGroupRequest request;
  request.set_topic(*topic);
  request.set_group(group);
  v1::DeleteGroupResponse response;
  if (!ctx.Admin(&AdminStub::DeleteGroup, request, &response)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson({{"deleted", {{"topic", *topic}, {"group", group}}}});
  } else {
    ctx.out() << "deleted group '" << group << "' of '" << *topic << "'\n";
  }
  return kExitOk;
}

}  // namespace

void AddGroupsCommands(CLI::App& root, CommandEnv env) {
  CLI::App* groups = root.add_subcommand("groups", "Consumer groups: lag, members, leases");
  groups->require_subcommand(1);
  groups->footer(
      "Examples:\n"
      "  brokerctl groups list\n"
      "  brokerctl groups list --topic orders --json\n"
      "  brokerctl groups describe email --leases\n"
      "  brokerctl groups create audit --topic orders --start latest\n"
      "  brokerctl groups delete audit --topic orders --yes\n"
      "  brokerctl groups reset email --to time --time 2h --yes");

  auto list_topic = std::make_shared<std::string>();
  CLI::App* list = groups->add_subcommand("list", "Every group with total lag and DLQ depth");
  list->add_option("-t,--topic", *list_topic, "Only groups of this topic");
  OnRun(list, env, [list_topic](Context& ctx) { return ListGroups(ctx, *list_topic); });

  auto describe_args = std::make_shared<DescribeGroupArgs>();
  CLI::App* describe = groups->add_subcommand(
      "describe", "Lag per partition and in total, members, leases and DLQ of one group");
  describe->add_option("group", describe_args->group, "Group name")->required();
  describe->add_option("-t,--topic", describe_args->topic,
                       "The group's topic (needed only if several topics have a group of that name)");
  describe->add_flag("--leases", describe_args->leases,
                     "Also list each leased message (member, offset, attempt, expiry)");
  describe->add_option("--scan-limit", describe_args->scan_limit,
                       "With --leases: unsettled offsets examined per partition at most")
      ->capture_default_str();
  describe->footer(
      "Lag columns: BACKLOG never delivered, IN_FLIGHT leased, DELAYED waiting for redelivery,\n"
      "UNSETTLED their sum, OLDEST age of the oldest unsettled message, EXPIRED deleted by\n"
      "retention before being settled.\n\n"
      "Examples:\n"
      "  brokerctl groups describe email\n"
      "  brokerctl groups describe email --topic orders --leases --json");
  OnRun(describe, env, [describe_args](Context& ctx) { return DescribeGroup(ctx, *describe_args); });

  auto create_args = std::make_shared<CreateGroupArgs>();
  CLI::App* create = groups->add_subcommand("create", "Create a consumer group");
  create->add_option("group", create_args->group, "Group name")->required();
  create->add_option("-t,--topic", create_args->topic, "Topic to consume")->required();
  create->add_option("--start", create_args->start, "Where a new group starts")
      ->check(CLI::IsMember({"earliest", "latest"}))
      ->capture_default_str();
  create->add_option("--ordering", create_args->ordering, "Delivery ordering")
      ->check(CLI::IsMember({"none", "per_key", "per_partition"}))
      ->capture_default_str();
  create->add_option("--ack-timeout", create_args->ack_timeout, "Lease length; default 30s")
      ->check(DurationValidator());
  create->add_option("--max-deliveries", create_args->max_deliveries,
                     "Deliveries before dead-lettering; default 5");
  OnRun(create, env, [create_args](Context& ctx) { return CreateGroup(ctx, *create_args); });

  auto delete_group = std::make_shared<std::string>();
  auto delete_topic = std::make_shared<std::string>();
  auto delete_yes = std::make_shared<bool>(false);
  CLI::App* del = groups->add_subcommand("delete", "Delete a consumer group's state (--yes)");
  del->add_option("group", *delete_group, "Group name")->required();
  del->add_option("-t,--topic", *delete_topic, "The group's topic");
  del->add_flag("-y,--yes", *delete_yes, "Really delete");
  OnRun(del, env, [delete_group, delete_topic, delete_yes](Context& ctx) {
    return DeleteGroup(ctx, *delete_group, *delete_topic, *delete_yes);
  });

  AddGroupResetCommand(*groups, env);
}

}  // namespace brokerctl
