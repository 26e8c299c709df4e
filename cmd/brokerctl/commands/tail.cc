#include "commands/tail.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "output/format.h"
#include "output/payload.h"
#include "output/record_text.h"

namespace brokerctl {
namespace {

struct TailArgs {
  std::string topic;
  std::optional<uint32_t> partition;
  uint32_t count = 10;
  bool follow = false;
  std::string group;
  std::string poll_interval = "500ms";
  size_t max_chars = 120;
};

// Reads partition `p` from `from` up to (not including) `until`, appending to `records`.
// Returns false after reporting a failure; with `failed`, stores it there instead of reporting.
bool ReadRange(Context& ctx, const std::string& topic, uint32_t p, uint64_t from, uint64_t until,
               std::vector<v1::Record>* records, uint64_t* end_offset,
               grpc::Status* failed = nullptr) {
  while (from < until) {
    v1::ReadRequest request;
    request.set_topic(topic);
    request.set_partition(p);
    request.set_from_offset(from);
    request.set_max_records(static_cast<uint32_t>(std::min<uint64_t>(until - from, 1000)));
    v1::ReadResponse response;
    if (failed != nullptr) {
      Connection* conn = ctx.Connect();
      if (conn == nullptr) return false;
      *failed = conn->Call(conn->admin(), &AdminStub::Read, request, &response);
      if (!failed->ok()) return false;
    } else if (!ctx.Admin(&AdminStub::Read, request, &response)) {
      return false;
    }
    *end_offset = response.end_offset();
    if (response.records().empty()) break;
    for (auto& r : *response.mutable_records()) {
      if (r.offset() >= until) break;
      from = r.offset() + 1;
      records->push_back(std::move(r));
    }
  }
  return true;
}

class Printer {
 public:
  Printer(Context& ctx, const TailArgs& args) : ctx_(ctx), args_(args) {}

  bool Print(const v1::Record& record) {
    std::optional<v1::MessageGroupState> state;
    if (!args_.group.empty()) {
      v1::GetMessageRequest request;
      request.set_topic(args_.topic);
      request.set_partition(record.partition());
      request.set_offset(record.offset());
      v1::GetMessageResponse response;
      if (!ctx_.Admin(&AdminStub::GetMessage, request, &response)) return false;
      for (const auto& s : response.groups()) {
        if (s.group() == args_.group) state = s;
      }
    }
    if (ctx_.json()) {
      Json line = {{"topic", args_.topic}, {"record", RecordJson(record)}};
      if (!args_.group.empty()) line["group_state"] = state ? MessageStateJson(*state) : Json(nullptr);
      ctx_.PrintJsonLine(line);
      return true;
    }
    std::string text = RecordOneLine(record, args_.max_chars);
    if (!args_.group.empty()) {
      text += "  [" + args_.group + ": ";
      text += state ? state->status() + ", " + std::to_string(state->attempts()) + " attempts" : "?";
      text += "]";
    }
    ctx_.out() << text << '\n';
    ctx_.out().flush();
    return true;
  }

 private:
  Context& ctx_;
  const TailArgs& args_;
};

int Tail(Context& ctx, const TailArgs& args) {
  v1::DescribeTopicRequest describe;
  describe.set_name(args.topic);
  v1::TopicInfo topic;
  if (!ctx.Admin(&AdminStub::DescribeTopic, describe, &topic)) return kExitFailure;
  if (!args.group.empty()) {  // an unknown group is an error, not a column of question marks
    v1::DescribeGroupRequest request;
    request.set_topic(args.topic);
    request.set_group(args.group);
    v1::GroupInfo group;
    if (!ctx.Admin(&AdminStub::DescribeGroup, request, &group)) return kExitFailure;
  }
  std::vector<v1::PartitionInfo> partitions;
  for (const auto& p : topic.partitions()) {
    if (!args.partition || p.partition() == *args.partition) partitions.push_back(p);
  }
  if (partitions.empty()) {
    return ctx.Fail("topic '" + args.topic + "' has no partition " +
                        std::to_string(*args.partition) + " (it has " +
                        std::to_string(topic.partitions_size()) + ")",
                    "invalid_argument");
  }

  // The last `count` records of the selected partitions, oldest first.
  std::vector<v1::Record> records;
  std::vector<uint64_t> next(partitions.size());
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& p = partitions[i];
    const uint64_t from = std::max(p.first_offset(),
                                   p.end_offset() > args.count ? p.end_offset() - args.count : 0);
    next[i] = p.end_offset();
    uint64_t end_now = 0;  // may be past next[i] already: those records are printed by --follow
    if (!ReadRange(ctx, args.topic, p.partition(), from, p.end_offset(), &records, &end_now)) {
      return kExitFailure;
    }
  }
  std::stable_sort(records.begin(), records.end(), [](const v1::Record& a, const v1::Record& b) {
    return a.timestamp_us() < b.timestamp_us();
  });
  if (records.size() > args.count) {
    records.erase(records.begin(), records.end() - static_cast<ptrdiff_t>(args.count));
  }
  Printer printer(ctx, args);
  for (const auto& r : records) {
    if (!printer.Print(r)) return kExitFailure;
  }
  if (!args.follow) {
    if (records.empty() && !ctx.json()) ctx.out() << "no records\n";
    return kExitOk;
  }

  // Follow: AdminService.Read cannot wait for new records, so poll; runs until interrupted. While
  // brokerd is unreachable (restarting) it keeps polling and says so once.
  const auto interval = *ParseDuration(args.poll_interval);
  bool away = false;
  while (true) {
    bool any = false;
    for (size_t i = 0; i < partitions.size(); ++i) {
      std::vector<v1::Record> fresh;
      uint64_t end = next[i];
      grpc::Status failed;
      if (!ReadRange(ctx, args.topic, partitions[i].partition(), next[i], UINT64_MAX, &fresh, &end,
                     &failed)) {
        // A restarting brokerd refuses connections (UNAVAILABLE) or ends calls it was serving
        // (CANCELLED: brokerctl never cancels its own).
        const grpc::StatusCode code = failed.error_code();
        if (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::CANCELLED) {
          return failed.ok() ? kExitFailure : ctx.RpcFailed(failed);
        }
        if (!away) ctx.Note("brokerd at " + ctx.options().addr + " is unavailable; still following");
        away = true;
        break;
      }
      if (away) ctx.Note("brokerd at " + ctx.options().addr + " is back");
      away = false;
      for (const auto& r : fresh) {
        if (!printer.Print(r)) return kExitFailure;
        next[i] = r.offset() + 1;
        any = true;
      }
    }
    if (!any) std::this_thread::sleep_for(interval);
  }
}

}  // namespace

void AddTailCommand(CLI::App& root, CommandEnv env) {
  auto args = std::make_shared<TailArgs>();
  CLI::App* tail = root.add_subcommand("tail", "Show the last records of a topic; --follow for new ones");
  tail->add_option("topic", args->topic, "Topic")->required();
  tail->add_option("-p,--partition", args->partition, "Only this partition (default: all)");
  tail->add_option("-n,--count", args->count, "How many of the latest records to show first")
      ->capture_default_str();
  tail->add_flag("-f,--follow", args->follow, "Keep printing new records until interrupted (rides out brokerd restarts)");
  tail->add_option("-g,--group", args->group, "Show this group's state of each record");
  tail->add_option("--poll-interval", args->poll_interval, "With --follow: how often to look")
      ->check(DurationValidator())
      ->capture_default_str();
  tail->add_option("--max-chars", args->max_chars, "Payload characters per line at most")
      ->capture_default_str();
  tail->footer(
      "Lines are PARTITION:OFFSET TIMESTAMP [key=KEY] PAYLOAD (binary payloads in hex).\n"
      "With --json, one JSON object per line.\n\n"
      "Examples:\n"
      "  brokerctl tail orders -n 20\n"
      "  brokerctl tail orders --partition 0 --follow --group email");
  OnRun(tail, env, [args](Context& ctx) { return Tail(ctx, *args); });
}

}  // namespace brokerctl
