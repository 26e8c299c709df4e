#include "commands/top.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "commands/stop_signal.h"
#include "output/format.h"
#include "output/table.h"
#include "output/top_frame.h"

namespace brokerctl {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kRed = "\x1b[31m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kReset = "\x1b[0m";
constexpr const char* kClearScreen = "\x1b[H\x1b[2J";

struct TopArgs {
  std::string topic;
  std::string interval = "2s";
  bool once = false;
};

// Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org).
bool UseColour() {
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
}

std::string Paint(const std::string& text, const char* colour, bool colour_on) {
  return colour_on ? colour + text + kReset : text;
}

std::string TrendCell(AgeTrend trend, bool colour) {
  switch (trend) {
    case AgeTrend::kNone:
      return "";
    case AgeTrend::kRising:
      return Paint("↑", kYellow, colour);
    case AgeTrend::kSteady:
      return "→";
    case AgeTrend::kFalling:
      return "↓";
  }
  return "";
}

void PrintTable(std::ostream& out, const std::vector<TopRow>& rows, bool colour) {
  Table table({{"TOPIC"},
               {"GROUP"},
               {"MEMBERS", Table::kRight},
               {"PUBLISH", Table::kRight},
               {"SETTLE", Table::kRight},
               {"BACKLOG", Table::kRight},
               {"IN_FLIGHT", Table::kRight},
               {"DELAYED", Table::kRight},
               {"OLDEST", Table::kRight},
               {""},
               {"DLQ", Table::kRight}});
  for (const TopRow& r : rows) {
    const std::string dlq = std::to_string(r.dlq_depth);
    table.AddRow({r.topic, r.group, std::to_string(r.members), HumanRate(r.publish_per_s),
                  HumanRate(r.settle_per_s), std::to_string(r.backlog),
                  std::to_string(r.in_flight), std::to_string(r.delayed),
                  HumanAge(r.oldest_unsettled_age_us), TrendCell(r.trend, colour),
                  r.dlq_depth > 0 ? Paint(dlq, kRed, colour) : dlq});
  }
  table.Print(out);
}

// One ListGroups call; false (status set) when brokerd did not answer.
bool Sample(Context& ctx, const std::string& topic, TopSample* sample, grpc::Status* status) {
  Connection* conn = ctx.Connect();
  if (conn == nullptr) return false;
  v1::ListGroupsRequest request;
  request.set_topic(topic);
  v1::ListGroupsResponse response;
  *status = conn->Call(conn->admin(), &AdminStub::ListGroups, request, &response);
  if (!status->ok()) return false;
  *sample = ToSample(response);
  return true;
}

// Waits `interval`, in short slices so Ctrl-C is noticed at once. This paces the refresh; it is
// not a wait for something to happen.
void Pause(std::chrono::milliseconds interval) {
  const auto until = SteadyClock::now() + interval;
  while (!StopRequested() && SteadyClock::now() < until) {
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(std::chrono::milliseconds(100), until - SteadyClock::now()));
  }
}

int Top(Context& ctx, const TopArgs& args) {
  const std::chrono::milliseconds interval = *ParseDuration(args.interval);
  if (interval < std::chrono::milliseconds(100)) {
    return ctx.Usage("--interval must be at least 100ms (got '" + args.interval + "')");
  }
  const bool tty = isatty(STDOUT_FILENO) == 1;
  const bool colour = !ctx.json() && UseColour();
  StopOnSignals();

  TopSample before;
  grpc::Status status;
  if (!Sample(ctx, args.topic, &before, &status)) {
    return status.ok() ? kExitFailure : ctx.RpcFailed(status);
  }
  auto sampled_at = SteadyClock::now();
  bool reported_outage = false;
  while (!StopRequested()) {
    Pause(interval);
    if (StopRequested()) break;
    TopSample now;
    if (!Sample(ctx, args.topic, &now, &status)) {
      if (args.once) return status.ok() ? kExitFailure : ctx.RpcFailed(status);
      // brokerd restarting: say so once and keep the last sample, so the next frame's rates
      // span the outage instead of reporting a burst.
      if (!reported_outage) {
        ctx.Note("brokerd is not answering (" + status.error_message() + "); retrying every " +
                 args.interval);
        reported_outage = true;
      }
      continue;
    }
    if (reported_outage) ctx.Note("brokerd is answering again");
    reported_outage = false;
    const auto at = SteadyClock::now();
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(at - sampled_at);
    const std::vector<TopRow> rows = ComputeTopRows(before, now, elapsed);
    if (ctx.json()) {
      Json groups = Json::array();
      for (const TopRow& r : rows) groups.push_back(TopRowJson(r));
      Json frame = {{"at_us", NowMicros()},
                    {"interval_s", static_cast<double>(elapsed.count()) / 1e6},
                    {"groups", std::move(groups)}};
      if (args.once) {
        ctx.PrintJson(frame);
      } else {
        ctx.PrintJsonLine(frame);
      }
    } else {
      std::ostream& out = ctx.out();
      if (tty && !args.once) out << kClearScreen;
      out << "brokerd " << ctx.options().addr << "  " << FormatUtc(NowMicros()) << "  rates over "
          << HumanDuration(elapsed.count()) << (args.once ? "" : "  (Ctrl-C quits)") << "\n\n";
      if (rows.empty()) {
        out << (args.topic.empty() ? "no consumer groups\n"
                                   : "no consumer groups on '" + args.topic + "'\n");
      } else {
        PrintTable(out, rows, colour);
      }
      if (!tty && !args.once) out << '\n';  // frames of a piped stream stay apart
    }
    ctx.out().flush();
    if (args.once) return kExitOk;
    before = std::move(now);
    sampled_at = at;
  }
  return kExitOk;
}

}  // namespace

void AddTopCommand(CLI::App& root, CommandEnv env) {
  auto args = std::make_shared<TopArgs>();
  CLI::App* top = root.add_subcommand(
      "top", "Live view of every group: rates, backlog, oldest unsettled and its trend, DLQ");
  top->add_option("-t,--topic", args->topic, "Only groups of this topic");
  top->add_option("-i,--interval", args->interval, "Time between refreshes")
      ->check(DurationValidator())
      ->capture_default_str();
  top->add_flag("--once", args->once,
                "Print one frame (rates over one interval) and exit, for scripts and tests");
  top->footer(
      "Columns: PUBLISH records appended to the topic per second, SETTLE records the group\n"
      "settled (acked, dead-lettered or expired) per second, BACKLOG never delivered,\n"
      "IN_FLIGHT leased, DELAYED waiting for redelivery, OLDEST age of the oldest unsettled\n"
      "message with its trend (↑ rising: the head is stuck or consumers fall behind; → steady;\n"
      "↓ falling), DLQ dead letters (red when above zero). Colour only on a terminal and\n"
      "never with NO_COLOR set. With --json: one object per refresh (per-interval counts\n"
      "`published`/`settled` beside the rates).\n\n"
      "Examples:\n"
      "  brokerctl top\n"
      "  brokerctl top --topic orders --interval 5s\n"
      "  brokerctl top --once --json");
  OnRun(top, env, [args](Context& ctx) { return Top(ctx, *args); });
}

}  // namespace brokerctl
