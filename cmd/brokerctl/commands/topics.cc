#include "commands/topics.h"

#include <memory>

#include "output/format.h"
#include "output/table.h"

namespace brokerctl {
namespace {

std::string Retention(const v1::TopicConfig& c) {
  std::string out;
  if (c.retention_age_ms() > 0) out = HumanDuration(c.retention_age_ms() * 1000);
  if (c.retention_bytes() > 0) {
    if (!out.empty()) out += ", ";
    out += HumanBytes(c.retention_bytes()) + "/partition";
  }
  if (c.retention() == v1::RETENTION_POLICY_INTEREST) {
    return out.empty() ? "interest" : "interest, " + out;
  }
  return out.empty() ? "forever" : out;
}

// The interest cap and how much of it is used, e.g. "1.0 MiB (42% used)".
std::string Cap(const v1::TopicConfig& c, uint64_t bytes) {
  if (c.retention() != v1::RETENTION_POLICY_INTEREST) return "none (limits retention)";
  if (c.max_bytes() == 0) return "none";
  const uint64_t percent = bytes >= c.max_bytes() ? 100 : bytes * 100 / c.max_bytes();
  return HumanBytes(c.max_bytes()) + " (" + std::to_string(percent) + "% used)";
}

// --retention: a policy name, or (as before policies existed) an age for limits retention.
CLI::Validator RetentionValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text == "limits" || text == "interest" || ParseDuration(text)) return "";
        return "'" + text + "' is neither a policy (limits, interest) nor a duration (e.g. 7d)";
      },
      "POLICY|DURATION");
}

uint64_t Sum(const v1::TopicInfo& t, uint64_t (v1::PartitionInfo::*field)() const) {
  uint64_t total = 0;
  for (const auto& p : t.partitions()) total += (p.*field)();
  return total;
}

int ListTopics(Context& ctx) {
  v1::ListTopicsResponse response;
  if (!ctx.Admin(&AdminStub::ListTopics, v1::ListTopicsRequest(), &response)) return kExitFailure;
  if (ctx.json()) {
    Json topics = Json::array();
    for (const auto& t : response.topics()) topics.push_back(TopicJson(t));
    ctx.PrintJson({{"topics", std::move(topics)}});
    return kExitOk;
  }
  if (response.topics().empty()) {
    ctx.out() << "no topics\n";
    return kExitOk;
  }
  Table table({{"TOPIC"},
               {"PARTITIONS", Table::kRight},
               {"RECORDS", Table::kRight},
               {"SIZE", Table::kRight},
               {"RETENTION"},
               {"CREATED"}});
  for (const auto& t : response.topics()) {
    table.AddRow({t.name(), std::to_string(t.partitions_size()),
                  std::to_string(Sum(t, &v1::PartitionInfo::records)),
                  HumanBytes(Sum(t, &v1::PartitionInfo::bytes)), Retention(t.config()),
                  FormatUtc(t.created_at_us())});
  }
  table.Print(ctx.out());
  return kExitOk;
}

struct CreateTopicArgs {
  std::string name;
  uint32_t partitions = 1;
  std::string retention;
  std::string retention_age;
  uint64_t retention_bytes = 0;
  uint64_t max_bytes = 0;
  uint32_t max_message_bytes = 0;
};

int CreateTopic(Context& ctx, const CreateTopicArgs& args) {
  v1::CreateTopicRequest request;
  request.set_name(args.name);
  request.mutable_config()->set_partitions(args.partitions);
  if (args.retention == "interest") {
    request.mutable_config()->set_retention(v1::RETENTION_POLICY_INTEREST);
  } else if (!args.retention.empty() && args.retention != "limits") {
    request.mutable_config()->set_retention_age_ms(ParseDuration(args.retention)->count());
  }
  if (!args.retention_age.empty()) {
    request.mutable_config()->set_retention_age_ms(ParseDuration(args.retention_age)->count());
  }
  request.mutable_config()->set_retention_bytes(args.retention_bytes);
  request.mutable_config()->set_max_bytes(args.max_bytes);
  request.mutable_config()->set_max_message_bytes(args.max_message_bytes);
  v1::TopicInfo topic;
  if (!ctx.Admin(&AdminStub::CreateTopic, request, &topic)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson(TopicJson(topic));
  } else {
    ctx.out() << "created topic '" << topic.name() << "' with " << topic.partitions_size()
              << (topic.partitions_size() == 1 ? " partition" : " partitions") << ", retention "
              << Retention(topic.config()) << "\n";
  }
  return kExitOk;
}

int DescribeTopic(Context& ctx, const std::string& name) {
  v1::DescribeTopicRequest request;
  request.set_name(name);
  v1::TopicInfo topic;
  if (!ctx.Admin(&AdminStub::DescribeTopic, request, &topic)) return kExitFailure;
  v1::ListGroupsRequest groups_request;
  groups_request.set_topic(name);
  v1::ListGroupsResponse groups;
  if (!ctx.Admin(&AdminStub::ListGroups, groups_request, &groups)) return kExitFailure;

  if (ctx.json()) {
    Json j = TopicJson(topic);
    Json group_list = Json::array();
    for (const auto& g : groups.groups()) {
      group_list.push_back({{"group", g.group()},
                            {"members", g.members_size()},
                            {"unsettled", g.total().unsettled()},
                            {"oldest_unsettled_age_us", g.total().oldest_unsettled_age_us()},
                            {"dlq_depth", g.dlq_depth()}});
    }
    j["groups"] = std::move(group_list);
    ctx.PrintJson(j);
    return kExitOk;
  }
  const auto& c = topic.config();
  KeyValues fields;
  fields.Add("topic", topic.name());
  fields.Add("partitions", std::to_string(topic.partitions_size()));
  fields.Add("records", std::to_string(Sum(topic, &v1::PartitionInfo::records)) + " (" +
                            HumanBytes(Sum(topic, &v1::PartitionInfo::bytes)) + ")");
  fields.Add("retention", Retention(c));
  fields.Add("max bytes", Cap(c, Sum(topic, &v1::PartitionInfo::bytes)));
  fields.Add("max message",
             c.max_message_bytes() == 0 ? "broker default" : HumanBytes(c.max_message_bytes()));
  fields.Add("created", FormatUtc(topic.created_at_us()));
  fields.Print(ctx.out());
  ctx.out() << "\n";
  Table partitions({{"PARTITION", Table::kRight},
                    {"FIRST", Table::kRight},
                    {"END", Table::kRight},
                    {"RECORDS", Table::kRight},
                    {"SIZE", Table::kRight}});
  for (const auto& p : topic.partitions()) {
    partitions.AddRow({std::to_string(p.partition()), std::to_string(p.first_offset()),
                       std::to_string(p.end_offset()), std::to_string(p.records()),
                       HumanBytes(p.bytes())});
  }
  partitions.Print(ctx.out());
  ctx.out() << "\n";
  if (groups.groups().empty()) {
    ctx.out() << "no consumer groups\n";
    return kExitOk;
  }
  Table group_table({{"GROUP"},
                     {"MEMBERS", Table::kRight},
                     {"UNSETTLED", Table::kRight},
                     {"OLDEST", Table::kRight},
                     {"DLQ", Table::kRight}});
  for (const auto& g : groups.groups()) {
    group_table.AddRow({g.group(), std::to_string(g.members_size()),
                        std::to_string(g.total().unsettled()),
                        HumanAge(g.total().oldest_unsettled_age_us()),
                        std::to_string(g.dlq_depth())});
  }
  group_table.Print(ctx.out());
  return kExitOk;
}

int DeleteTopic(Context& ctx, const std::string& name, bool yes) {
  if (!yes) {
    return ctx.Usage("refusing to delete topic '" + name +
                     "' and all its records without --yes (this cannot be undone)");
  }
  v1::DeleteTopicRequest request;
  request.set_name(name);
  v1::DeleteTopicResponse response;
  if (!ctx.Admin(&AdminStub::DeleteTopic, request, &response)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson({{"deleted", name}});
  } else {
    ctx.out() << "deleted topic '" << name << "'\n";
  }
  return kExitOk;
}

}  // namespace

void AddTopicsCommands(CLI::App& root, CommandEnv env) {
  CLI::App* topics = root.add_subcommand("topics", "List, create, describe and delete topics");
  topics->require_subcommand(1);
  topics->footer(
      "Examples:\n"
      "  brokerctl topics list\n"
      "  brokerctl topics create orders --partitions 4 --retention 7d\n"
      "  brokerctl topics create emails --retention interest --max-bytes 1073741824\n"
      "  brokerctl topics describe orders\n"
      "  brokerctl topics delete orders --yes");

  CLI::App* list = topics->add_subcommand("list", "Every topic with partitions, records and size");
  OnRun(list, env, [](Context& ctx) { return ListTopics(ctx); });

  auto create_args = std::make_shared<CreateTopicArgs>();
  CLI::App* create = topics->add_subcommand("create", "Create a topic");
  create->add_option("name", create_args->name, "Topic name ([A-Za-z0-9._-], up to 200)")
      ->required();
  create->add_option("-p,--partitions", create_args->partitions, "Number of partitions (fixed)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  create->add_option("--retention", create_args->retention,
                     "limits (default), interest (delete once every group settled a record), or "
                     "an age for limits (e.g. 7d; default: keep forever)")
      ->check(RetentionValidator());
  create->add_option("--retention-age", create_args->retention_age,
                     "Delete records older than this (e.g. 7d), with either policy")
      ->check(DurationValidator());
  create->add_option("--retention-bytes", create_args->retention_bytes,
                     "limits: keep at most this many bytes per partition; default: unlimited");
  create->add_option("--max-bytes", create_args->max_bytes,
                     "interest: refuse publishes past this many stored bytes (whole topic); "
                     "default: no cap");
  create->add_option("--max-message-bytes", create_args->max_message_bytes,
                     "Largest message accepted; default: the broker's limit");
  create->footer(
      "Examples:\n  brokerctl topics create orders --partitions 4 --retention 7d\n"
      "  brokerctl topics create emails --retention interest --max-bytes 1073741824");
  OnRun(create, env, [create_args](Context& ctx) { return CreateTopic(ctx, *create_args); });

  auto describe_name = std::make_shared<std::string>();
  CLI::App* describe =
      topics->add_subcommand("describe", "Partitions, offsets, size and consumer groups of a topic");
  describe->add_option("name", *describe_name, "Topic name")->required();
  describe->footer("Example:\n  brokerctl topics describe orders");
  OnRun(describe, env, [describe_name](Context& ctx) { return DescribeTopic(ctx, *describe_name); });

  auto delete_name = std::make_shared<std::string>();
  auto delete_yes = std::make_shared<bool>(false);
  CLI::App* del = topics->add_subcommand("delete", "Delete a topic and all its records (--yes)");
  del->add_option("name", *delete_name, "Topic name")->required();
  del->add_flag("-y,--yes", *delete_yes, "Really delete");
  del->footer("Example:\n  brokerctl topics delete orders --yes");
  OnRun(del, env, [delete_name, delete_yes](Context& ctx) {
    return DeleteTopic(ctx, *delete_name, *delete_yes);
  });
}

}  // namespace brokerctl
