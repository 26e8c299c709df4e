#include "commands/dlq.h"

#include <memory>
#include <vector>

#include "cli/suggest.h"
#include "output/format.h"
#include "output/record_text.h"
#include "output/table.h"

namespace brokerctl {
namespace {

// The reasons brokerd dead-letters for (dlq.reason; broker/include/broker/delivery.h).
const std::vector<std::string> kDeadLetterReasons = {"max_deliveries", "rejected"};

// --reason: one of kDeadLetterReasons. A typo would match nothing, and "0 would be redriven"
// reads like good news, so it is refused with the valid reasons named.
CLI::Validator ReasonValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        for (const std::string& r : kDeadLetterReasons) {
          if (text == r) return "";
        }
        std::string valid;
        for (const std::string& r : kDeadLetterReasons) valid += (valid.empty() ? "" : " or ") + r;
        std::string message = "'" + text + "' is not a dead-letter reason: use " + valid;
        if (auto closest = Closest(text, kDeadLetterReasons)) {
          message += " (did you mean '" + *closest + "'?)";
        }
        return message;
      },
      "REASON");
}

// Which dead letters peek, redrive and purge act on (all fields optional).
struct FilterArgs {
  std::string reason;
  std::string error_contains;
  std::string older_than;
  uint64_t limit = 0;

  // `with_limit`: peek has -n instead.
  void AddTo(CLI::App* command, bool with_limit = true) {
    command->add_option("--reason", reason, "Only letters dead for this reason: max_deliveries or rejected")
        ->check(ReasonValidator());
    command->add_option("--error-contains", error_contains,
                        "Only letters whose last error contains this text");
    command->add_option("--older-than", older_than, "Only letters dead for at least this long")
        ->check(DurationValidator());
    if (with_limit) {
      command->add_option("--limit", limit, "At most this many letters (oldest first); 0 = all");
    }
  }

  bool empty() const { return reason.empty() && error_contains.empty() && older_than.empty(); }

  // The same test brokerd applies for redrive and purge (broker::DeadLetterFilter).
  bool Matches(const v1::DeadLetter& d, int64_t now_us) const {
    if (!reason.empty() && d.reason() != reason) return false;
    if (!error_contains.empty() && d.last_error().find(error_contains) == std::string::npos) {
      return false;
    }
    if (!older_than.empty() && now_us - d.dead_at_us() < ParseDuration(older_than)->count() * 1000) {
      return false;
    }
    return true;
  }

  v1::DeadLetterFilter ToProto() const {
    v1::DeadLetterFilter f;
    f.set_reason(reason);
    f.set_error_contains(error_contains);
    if (!older_than.empty()) f.set_older_than_ms(ParseDuration(older_than)->count());
    f.set_limit(limit);
    return f;
  }

  // " with reason 'rejected', last error containing 'smtp'", or "" without a filter.
  std::string Describe() const {
    std::string out;
    auto add = [&](const std::string& part) { out += (out.empty() ? " with " : ", ") + part; };
    if (!reason.empty()) add("reason '" + reason + "'");
    if (!error_contains.empty()) add("last error containing '" + error_contains + "'");
    if (!older_than.empty()) add("dead for at least " + older_than);
    if (limit != 0) add("at most " + std::to_string(limit));
    return out;
  }
};

Json FilterJson(const FilterArgs& f) {
  return {{"reason", f.reason},
          {"error_contains", f.error_contains},
          {"older_than_ms", f.older_than.empty() ? 0 : ParseDuration(f.older_than)->count()},
          {"limit", f.limit}};
}

int ListDeadLetterCounts(Context& ctx, bool non_empty) {
  v1::ListGroupsResponse response;
  if (!ctx.Admin(&AdminStub::ListGroups, v1::ListGroupsRequest(), &response)) return kExitFailure;
  if (ctx.json()) {
    Json list = Json::array();
    for (const auto& g : response.groups()) {
      if (non_empty && g.dlq_depth() == 0) continue;
      list.push_back({{"dlq_topic", g.dlq_topic()},
                      {"topic", g.topic()},
                      {"group", g.group()},
                      {"depth", g.dlq_depth()},
                      {"oldest_age_us", g.dlq_oldest_age_us()}});
    }
    ctx.PrintJson({{"dlqs", std::move(list)}});
    return kExitOk;
  }
  Table table({{"DLQ"}, {"TOPIC"}, {"GROUP"}, {"DEPTH", Table::kRight}, {"OLDEST", Table::kRight}});
  for (const auto& g : response.groups()) {
    if (non_empty && g.dlq_depth() == 0) continue;
    table.AddRow({g.dlq_topic(), g.topic(), g.group(), std::to_string(g.dlq_depth()),
                  g.dlq_depth() == 0 ? "-" : HumanAge(g.dlq_oldest_age_us())});
  }
  if (table.empty()) {
    ctx.out() << (non_empty ? "no dead letters\n" : "no consumer groups, so no dead-letter queues\n");
    return kExitOk;
  }
  table.Print(ctx.out());
  return kExitOk;
}

struct PeekArgs {
  std::string topic;
  std::string group;
  uint32_t count = 10;
  std::string format = "auto";
  size_t max_bytes = 4096;
  FilterArgs filter;
};

// The oldest `args.count` dead letters matching the filter. brokerd's ListDeadLetters has no
// filter, so pages are read (oldest first) and filtered here with redrive's rules.
bool ReadDeadLetters(Context& ctx, const PeekArgs& args, int64_t now,
                     std::vector<v1::DeadLetter>* letters) {
  v1::ListDeadLettersRequest request;
  request.set_topic(args.topic);
  request.set_group(args.group);
  // Unfiltered, one page of exactly what is shown; filtered, full pages.
  request.set_limit(args.filter.empty() ? args.count : 1000);
  while (letters->size() < args.count) {
    v1::ListDeadLettersResponse response;
    if (!ctx.Admin(&AdminStub::ListDeadLetters, request, &response)) return false;
    for (auto& d : *response.mutable_dead_letters()) {
      if (letters->size() < args.count && args.filter.Matches(d, now)) letters->push_back(std::move(d));
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return true;
}

int Peek(Context& ctx, const PeekArgs& args) {
  const int64_t now = NowMicros();
  std::vector<v1::DeadLetter> letters;
  if (!ReadDeadLetters(ctx, args, now, &letters)) return kExitFailure;
  if (ctx.json()) {
    Json list = Json::array();
    for (const auto& d : letters) list.push_back(DeadLetterJson(d, now));
    ctx.PrintJson({{"topic", args.topic},
                   {"group", args.group},
                   {"filter", FilterJson(args.filter)},
                   {"dead_letters", std::move(list)}});
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  if (letters.empty()) {
    out << "no dead letters" << args.filter.Describe() << " for group '" << args.group << "' of '"
        << args.topic << "'\n";
    return kExitOk;
  }
  const RecordTextOptions options{BytesFormatFromName(args.format), args.max_bytes};
  int index = 0;
  for (const auto& d : letters) {
    if (index++ > 0) out << "\n";
    out << "dead letter " << index << ": " << args.topic << " partition " << d.original_partition()
        << " offset " << d.original_offset() << "\n";
    KeyValues fields;
    fields.Add("reason", d.reason());
    fields.Add("last error", d.last_error().empty() ? "(none)" : SafeOneLine(d.last_error(), 300));
    fields.Add("attempts", std::to_string(d.attempts()));
    fields.Add("dead at", FormatUtc(d.dead_at_us()) + " (" +
                              HumanDuration(now - d.dead_at_us()) + " ago)");
    fields.Add("dlq record", "partition " + std::to_string(d.record().partition()) + " offset " +
                                 std::to_string(d.record().offset()));
    PrintRecordDetail(out, d.record(), options, "  ", std::move(fields));
  }
  if (letters.size() == args.count) {
    out << "\n(showing the oldest " << args.count << "; -n shows more)\n";
  }
  return kExitOk;
}

struct RedriveArgs {
  std::string topic;
  std::string group;
  FilterArgs filter;
  std::string rate;
  bool dry_run = false;
};

int Redrive(Context& ctx, const RedriveArgs& args) {
  v1::RedriveRequest request;
  request.set_topic(args.topic);
  request.set_group(args.group);
  *request.mutable_filter() = args.filter.ToProto();
  request.set_dry_run(args.dry_run);
  const double rate = args.rate.empty() ? 0 : *ParseRate(args.rate);
  request.set_rate_per_second(rate);
  v1::RedriveResponse response;
  if (!ctx.Admin(&AdminStub::Redrive, request, &response)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson({{"topic", args.topic},
                   {"group", args.group},
                   {"dry_run", args.dry_run},
                   {"filter", FilterJson(args.filter)},
                   {"rate_per_second", rate},
                   {"matched", response.matched()},
                   {"redriven", response.redriven()},
                   {"missing", response.missing()}});
    return kExitOk;
  }
  std::ostream& out = ctx.out();
  const std::string what = "dead letters of group '" + args.group + "' on '" + args.topic + "'" +
                           args.filter.Describe();
  if (args.dry_run) {
    out << "dry run: " << response.matched() << " " << what << " would be redriven; nothing changed\n";
  } else {
    out << "redrove " << response.redriven() << " of " << response.matched() << " matching " << what
        << " back to group '" << args.group << "' only";
    if (rate > 0) out << ", released at " << args.rate;
    out << "\n";
  }
  if (response.missing() > 0) {
    out << response.missing()
        << " matching letters stay in the DLQ: their original records were deleted by retention\n";
  }
  return kExitOk;
}

struct PurgeArgs {
  std::string topic;
  std::string group;
  FilterArgs filter;
  bool yes = false;
};

int Purge(Context& ctx, const PurgeArgs& args) {
  const std::string what = "dead letters of group '" + args.group + "' on '" + args.topic + "'" +
                           args.filter.Describe();
  if (!args.yes) {
    // Say how many would go, if brokerd can tell us (a redrive dry run matches the same filter).
    std::string count;
    if (Connection* conn = ctx.Connect(); conn != nullptr) {
      v1::RedriveRequest dry;
      dry.set_topic(args.topic);
      dry.set_group(args.group);
      *dry.mutable_filter() = args.filter.ToProto();
      dry.set_dry_run(true);
      v1::RedriveResponse matched;
      if (conn->Call(conn->admin(), &AdminStub::Redrive, dry, &matched).ok()) {
        count = " (" + std::to_string(matched.matched()) + " match)";
      }
    }
    return ctx.Usage("refusing to purge " + what + count + " without --yes; purged letters are gone");
  }
  v1::PurgeDeadLettersRequest request;
  request.set_topic(args.topic);
  request.set_group(args.group);
  *request.mutable_filter() = args.filter.ToProto();
  v1::PurgeDeadLettersResponse response;
  if (!ctx.Admin(&AdminStub::PurgeDeadLetters, request, &response)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson({{"topic", args.topic},
                   {"group", args.group},
                   {"filter", FilterJson(args.filter)},
                   {"purged", response.purged()}});
  } else {
    ctx.out() << "purged " << response.purged() << " " << what << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddDlqCommands(CLI::App& root, CommandEnv env) {
  CLI::App* dlq = root.add_subcommand("dlq", "Dead-letter queues: list, peek, redrive, purge");
  dlq->require_subcommand(1);
  dlq->footer(
      "Examples:\n"
      "  brokerctl dlq list\n"
      "  brokerctl dlq peek orders email -n 5\n"
      "  brokerctl dlq redrive orders email --error-contains 'smtp timeout' --dry-run\n"
      "  brokerctl dlq redrive orders email --reason max_deliveries --rate 50/s\n"
      "  brokerctl dlq purge orders email --reason rejected --yes");

  auto non_empty = std::make_shared<bool>(false);
  CLI::App* list = dlq->add_subcommand("list", "Every group's DLQ with its depth and oldest age");
  list->add_flag("--non-empty", *non_empty, "Only DLQs holding dead letters");
  OnRun(list, env, [non_empty](Context& ctx) { return ListDeadLetterCounts(ctx, *non_empty); });

  auto peek_args = std::make_shared<PeekArgs>();
  CLI::App* peek = dlq->add_subcommand(
      "peek", "Show the oldest dead letters: reason, last error, headers (dlq.* included), payload");
  peek->add_option("topic", peek_args->topic, "Topic the group consumes")->required();
  peek->add_option("group", peek_args->group, "Group")->required();
  peek->add_option("-n,--count", peek_args->count, "How many")->capture_default_str()
      ->check(CLI::Range(1u, 10000u));
  peek->add_option("--format", peek_args->format,
                   "Payload display: auto (text if printable UTF-8, else hex), text, hex, base64")
      ->check(CLI::IsMember({"auto", "text", "hex", "base64"}))
      ->capture_default_str();
  peek->add_option("--max-bytes", peek_args->max_bytes, "Payload bytes shown at most (0 = all)")
      ->capture_default_str();
  peek_args->filter.AddTo(peek, /*with_limit=*/false);
  peek->footer(
      "The filters are redrive's and purge's: peek with them to see which letters those would act\n"
      "on.\n\n"
      "Examples:\n"
      "  brokerctl dlq peek orders email -n 3 --format base64\n"
      "  brokerctl dlq peek orders email --error-contains 'smtp timeout' --older-than 10m");
  OnRun(peek, env, [peek_args](Context& ctx) { return Peek(ctx, *peek_args); });

  auto redrive_args = std::make_shared<RedriveArgs>();
  CLI::App* redrive = dlq->add_subcommand(
      "redrive", "Deliver dead letters again, to the group that dead-lettered them only");
  redrive->add_option("topic", redrive_args->topic, "Topic the group consumes")->required();
  redrive->add_option("group", redrive_args->group, "Group")->required();
  redrive_args->filter.AddTo(redrive);
  redrive->add_option("--rate", redrive_args->rate,
                      "Release redriven messages at this rate (e.g. 10/s); default all at once")
      ->check(RateValidator());
  redrive->add_flag("--dry-run", redrive_args->dry_run, "Only count what would be redriven");
  redrive->footer(
      "Other groups of the topic never see redriven messages; attempts start again at 0.\n\n"
      "Examples:\n"
      "  brokerctl dlq redrive orders email --dry-run\n"
      "  brokerctl dlq redrive orders email --error-contains 'smtp timeout' --older-than 10m\n"
      "  brokerctl dlq redrive orders email --reason max_deliveries --rate 20/s");
  OnRun(redrive, env, [redrive_args](Context& ctx) { return Redrive(ctx, *redrive_args); });

  auto purge_args = std::make_shared<PurgeArgs>();
  CLI::App* purge = dlq->add_subcommand("purge", "Forget dead letters for good (--yes)");
  purge->add_option("topic", purge_args->topic, "Topic the group consumes")->required();
  purge->add_option("group", purge_args->group, "Group")->required();
  purge_args->filter.AddTo(purge);
  purge->add_flag("-y,--yes", purge_args->yes, "Really purge");
  purge->footer(
      "Examples:\n"
      "  brokerctl dlq purge orders email --reason rejected --yes\n"
      "  brokerctl dlq purge orders email --older-than 7d --yes");
  OnRun(purge, env, [purge_args](Context& ctx) { return Purge(ctx, *purge_args); });
}

}  // namespace brokerctl
