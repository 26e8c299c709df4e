#include "commands/msg.h"

#include <memory>

#include "output/format.h"
#include "output/record_text.h"
#include "output/table.h"

namespace brokerctl {
namespace {

struct ShowArgs {
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  std::string format = "auto";
  size_t max_bytes = 4096;
};

// The state columns that matter for a status: when a lease expires or a redelivery is due.
std::string StateDetail(const v1::MessageGroupState& s, int64_t now) {
  if (s.status() == "leased") {
    return "by " + s.leased_by() + ", lease expires in " + HumanDuration(s.lease_expires_us() - now);
  }
  if (s.status() == "delayed") {
    const int64_t due = s.delayed_until_us() - now;
    return due > 0 ? "redelivery in " + HumanDuration(due) : "redelivery due now";
  }
  return "";
}

int Show(Context& ctx, const ShowArgs& args) {
  v1::GetMessageRequest request;
  request.set_topic(args.topic);
  request.set_partition(args.partition);
  request.set_offset(args.offset);
  v1::GetMessageResponse response;
  if (!ctx.Admin(&AdminStub::GetMessage, request, &response)) return kExitFailure;
  if (ctx.json()) {
    Json groups = Json::array();
    for (const auto& g : response.groups()) groups.push_back(MessageStateJson(g));
    ctx.PrintJson({{"topic", args.topic},
                   {"record", RecordJson(response.record())},
                   {"groups", std::move(groups)}});
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  out << args.topic << " partition " << response.record().partition() << " offset "
      << response.record().offset() << "\n";
  PrintRecordDetail(out, response.record(),
                    RecordTextOptions{BytesFormatFromName(args.format), args.max_bytes}, "  ");
  out << "\n";
  if (response.groups().empty()) {
    out << "no consumer groups on '" << args.topic << "'\n";
    return kExitOk;
  }
  const int64_t now = NowMicros();
  Table table({{"GROUP"}, {"STATUS"}, {"ATTEMPTS", Table::kRight}, {"DETAIL"}, {"LAST_ERROR"}});
  for (const auto& g : response.groups()) {
    // Below the ack floor brokerd keeps no attempt count for acked messages: 0 means unknown.
    const bool attempts_known = g.attempts() != 0 || g.status() != "acked";
    const std::string detail = StateDetail(g, now);
    table.AddRow({g.group(), g.status(), attempts_known ? std::to_string(g.attempts()) : "-",
                  detail.empty() ? "-" : detail,
                  g.last_error().empty() ? "-" : SafeOneLine(g.last_error(), 80)});
  }
  table.Print(out);
  return kExitOk;
}

}  // namespace

void AddMsgCommands(CLI::App& root, CommandEnv env) {
  CLI::App* msg = root.add_subcommand("msg", "Inspect single messages");
  msg->require_subcommand(1);

  auto args = std::make_shared<ShowArgs>();
  CLI::App* show =
      msg->add_subcommand("show", "A record (key, headers, payload) and its state in every group");
  show->add_option("topic", args->topic, "Topic")->required();
  show->add_option("partition", args->partition, "Partition")->required();
  show->add_option("offset", args->offset, "Offset")->required();
  show->add_option("--format", args->format,
                   "Payload display: auto (text if printable UTF-8, else hex), text, hex, base64")
      ->check(CLI::IsMember({"auto", "text", "hex", "base64"}))
      ->capture_default_str();
  show->add_option("--max-bytes", args->max_bytes, "Payload bytes shown at most (0 = all)")
      ->capture_default_str();
  show->footer(
      "Statuses: pending (not yet reached), available, leased, delayed, acked, dead, expired.\n\n"
      "Example:\n  brokerctl msg show orders 0 42");
  OnRun(show, env, [args](Context& ctx) { return Show(ctx, *args); });
}

}  // namespace brokerctl
