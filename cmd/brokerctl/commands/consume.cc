#include "commands/consume.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "broker/client/grpc_transport.h"
#include "commands/stop_signal.h"
#include "output/payload.h"
#include "output/record_text.h"
#include "rpc/convert.h"
#include "rpc/status_mapping.h"

namespace brokerctl {
namespace {

// How a consume settles every message it is given.
enum class Settle { kAck, kNack, kReject };

struct ConsumeArgs {
  std::string topic;
  std::string group;
  std::string member;
  uint64_t count = 0;  // 0: no limit
  bool follow = false;
  bool nack = false;
  std::string reject_reason;  // set: --reject
  std::string fail_with;      // set: --fail-with
  std::string wait = "2s";
  size_t max_chars = 120;

  Settle settle() const {
    if (!reject_reason.empty()) return Settle::kReject;
    if (nack || !fail_with.empty()) return Settle::kNack;
    return Settle::kAck;
  }
};

// Polls wait at most this long, so an interrupt is noticed promptly.
constexpr std::chrono::milliseconds kPollSlice{250};

// The transport's settings from the global flags. brokerctl's own Connection has resolved the
// token already (--token, --token-file, BROKER_TOKEN...). False, after reporting why, for TLS
// settings the client library cannot express.
bool TransportOptions(Context& ctx, const Connection& conn,
                      broker::client::GrpcTransportOptions* out, int* exit_code) {
  const GlobalOptions& options = ctx.options();
  if ((options.tls && options.tls_ca.empty()) || !options.tls_server_name.empty()) {
    *exit_code = ctx.Usage(
        "consume over TLS needs --tls-ca (the system's roots and --tls-server-name are not "
        "supported by the client library yet)");
    return false;
  }
  out->address = options.addr;
  out->token = conn.token();
  out->tls_ca_file = options.tls_ca;
  out->tls_cert_file = options.tls_cert;
  out->tls_key_file = options.tls_key;
  out->call_timeout = options.timeout;
  return true;
}

const char* SettleName(Settle settle) {
  switch (settle) {
    case Settle::kAck: return "ack";
    case Settle::kNack: return "nack";
    case Settle::kReject: return "reject";
  }
  return "?";
}

const char* SettledName(Settle settle) {
  switch (settle) {
    case Settle::kAck: return "acked";
    case Settle::kNack: return "nacked";
    case Settle::kReject: return "rejected";
  }
  return "?";
}

broker::Status SettleOne(broker::Subscription& sub, const ConsumeArgs& args,
                         const broker::Delivery& d) {
  const auto p = d.record.partition;
  const auto o = d.record.offset;
  switch (args.settle()) {
    case Settle::kAck: return sub.AckAttempt(p, o, d.attempt);
    case Settle::kNack: return sub.NackAttempt(p, o, d.attempt, std::nullopt, args.fail_with);
    case Settle::kReject: return sub.RejectAttempt(p, o, d.attempt, args.reject_reason);
  }
  return broker::Status::Internal("unknown settle");
}

// One line per message, as `tail` prints it, plus what this consumer did with it:
//   1:3  2026-11-24T22:17:55.000Z  key=customer-5  {"order": 1005}  [attempt 1, rejected: bad]
void PrintOutcome(Context& ctx, const ConsumeArgs& args, const std::string& member,
                  const broker::Delivery& d, const broker::Status& settled) {
  v1::Record record;
  broker::rpc::ToProto(d.record, record);
  const Settle settle = args.settle();
  const std::string& error = settle == Settle::kReject ? args.reject_reason : args.fail_with;
  if (ctx.json()) {
    Json line = {{"topic", args.topic},
                 {"group", args.group},
                 {"member", member},
                 {"attempt", d.attempt},
                 {"settle", SettleName(settle)},
                 {"error", error},
                 {"settled", settled.ok()}};
    if (!settled.ok()) {
      line["settle_error"] = {{"code", StatusCodeName(broker::rpc::ToGrpcCode(settled.code()))},
                              {"message", settled.message()}};
    }
    line["record"] = RecordJson(record);
    ctx.PrintJsonLine(line);
    return;
  }
  std::string text = RecordOneLine(record, args.max_chars);
  text += "  [attempt " + std::to_string(d.attempt) + ", ";
  if (settled.ok()) {
    text += SettledName(settle);
    if (!error.empty()) text += ": " + SafeOneLine(error, 80);
  } else {
    text += std::string(SettleName(settle)) + " failed: " + SafeOneLine(settled.message(), 200);
  }
  ctx.out() << text << "]\n";
  ctx.out().flush();
}

int Consume(Context& ctx, const ConsumeArgs& args) {
  // The topic must exist: subscribing would otherwise create it (brokerd's auto-create), and a
  // typo would leave a stray topic and group behind.
  v1::DescribeTopicRequest describe;
  describe.set_name(args.topic);
  v1::TopicInfo topic;
  if (!ctx.Admin(&AdminStub::DescribeTopic, describe, &topic)) return kExitFailure;

  Connection* conn = ctx.Connect();
  if (conn == nullptr) return kExitFailure;
  broker::client::GrpcTransportOptions transport_options;
  int exit_code = kExitOk;
  if (!TransportOptions(ctx, *conn, &transport_options, &exit_code)) return exit_code;
  auto transport = broker::client::MakeGrpcTransport(transport_options);
  if (!transport.ok()) return ctx.Fail(transport.status().message(), "bad_configuration");

  broker::SubscribeOptions subscribe;
  subscribe.member = args.member.empty() ? "brokerctl-" + std::to_string(getpid()) : args.member;
  auto subscribed = (*transport)->Subscribe(args.topic, args.group, subscribe);
  if (!subscribed.ok()) return ctx.RpcFailed(broker::rpc::ToGrpc(subscribed.status()));
  broker::Subscription& sub = **subscribed;

  StopOnSignals();
  const auto idle = *ParseDuration(args.wait);
  auto give_up_at = std::chrono::steady_clock::now() + idle;
  uint64_t handled = 0;
  while (!StopRequested() && (args.count == 0 || handled < args.count)) {
    auto slice = kPollSlice;
    if (!args.follow) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          give_up_at - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds(0)) break;
      slice = std::min(slice, left);
    }
    // One at a time: the subscription leases only what a Poll asks for, so a consume stopped by
    // -n or an interrupt holds nothing another member could have had.
    auto polled = sub.Poll(1, slice);
    if (!polled.ok()) return ctx.RpcFailed(broker::rpc::ToGrpc(polled.status()));
    for (const broker::Delivery& d : *polled) {
      const broker::Status settled = SettleOne(sub, args, d);
      PrintOutcome(ctx, args, sub.member(), d, settled);
      ++handled;
      // While following, a settle lost to a brokerd restart is reported and consuming goes on
      // (the message comes back); otherwise it ends the run.
      if (!settled.ok() && !args.follow) return ctx.RpcFailed(broker::rpc::ToGrpc(settled));
    }
    if (!polled->empty()) give_up_at = std::chrono::steady_clock::now() + idle;
  }
  if (handled == 0 && !ctx.json() && !StopRequested()) {
    ctx.out() << "no messages for group '" << args.group << "' of '" << args.topic << "' within "
              << args.wait << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddConsumeCommand(CLI::App& root, CommandEnv env) {
  auto args = std::make_shared<ConsumeArgs>();
  CLI::App* consume = root.add_subcommand(
      "consume", "Consume a topic in a consumer group: print each message and ack it (or not)");
  consume->add_option("topic", args->topic, "Topic")->required();
  consume->add_option("-g,--group", args->group, "Consumer group (created if new: from the earliest)")
      ->required();
  consume->add_option("--member", args->member, "Member name in the group (default: brokerctl-PID)");
  consume->add_option("-n,--count", args->count, "Stop after this many messages (0: no limit)")
      ->capture_default_str();
  consume->add_flag("-f,--follow", args->follow,
                    "Keep consuming until interrupted (rejoins the group when brokerd restarts)");
  consume->add_option("--wait", args->wait,
                      "Without --follow: stop once no message arrived for this long")
      ->check(DurationValidator())
      ->capture_default_str();
  CLI::Option* nack = consume->add_flag(
      "--nack", args->nack, "Nack every message: redelivered after the group's backoff");
  CLI::Option* reject = consume->add_option(
      "--reject", args->reject_reason,
      "Reject every message with this reason: dead-lettered at once (dlq.reason=rejected)");
  reject->check(CLI::Validator(
      [](std::string& text) { return text.empty() ? "the reason of --reject cannot be empty" : ""; },
      ""))->type_name("REASON");
  CLI::Option* fail_with = consume->add_option(
      "--fail-with", args->fail_with,
      "Fail every message with this error: nacked, the text kept as its last error "
      "(dlq.last_error once max_deliveries is reached)");
  fail_with->check(CLI::Validator(
      [](std::string& text) { return text.empty() ? "the error of --fail-with cannot be empty" : ""; },
      ""))->type_name("TEXT");
  nack->excludes(reject)->excludes(fail_with);
  reject->excludes(fail_with);
  consume->add_option("--max-chars", args->max_chars, "Payload characters per line at most")
      ->capture_default_str();
  consume->footer(
      "Lines are PARTITION:OFFSET TIMESTAMP [key=KEY] PAYLOAD [attempt N, OUTCOME], as `tail`\n"
      "prints them; with --json, one JSON object per line. Without --follow, consume stops once\n"
      "nothing arrived for --wait; Ctrl-C stops it after the message in hand.\n\n"
      "Examples:\n"
      "  brokerctl consume orders -g email -n 10                 # ack the next 10\n"
      "  brokerctl consume orders -g email --reject 'bad payload' -n 1\n"
      "  brokerctl consume orders -g email --fail-with 'smtp timeout' --follow");
  OnRun(consume, env, [args](Context& ctx) { return Consume(ctx, *args); });
}

}  // namespace brokerctl
