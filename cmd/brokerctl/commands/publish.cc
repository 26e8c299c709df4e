#include "commands/publish.h"

#include <unistd.h>

#include <iterator>
#include <memory>
#include <optional>

namespace brokerctl {
namespace {

struct PublishArgs {
  std::string topic;
  std::optional<std::string> payload;
  std::optional<std::string> key;
  std::vector<std::string> headers;
  std::string idempotency_key;
  std::string durability = "default";
};

int Publish(Context& ctx, const PublishArgs& args) {
  v1::PublishRequest request;
  request.set_topic(args.topic);
  request.set_durability(args.durability == "sync"    ? v1::DURABILITY_SYNC
                         : args.durability == "async" ? v1::DURABILITY_ASYNC
                                                      : v1::DURABILITY_DEFAULT);
  v1::OutgoingMessage* message = request.add_messages();
  if (args.key) message->set_key(*args.key);
  for (const std::string& h : args.headers) {
    auto parsed = ParseHeader(h);  // validated by the flag
    v1::Header* header = message->add_headers();
    header->set_name(parsed->first);
    header->set_value(parsed->second);
  }
  message->set_idempotency_key(args.idempotency_key);
  if (args.payload && *args.payload != "-") {
    message->set_payload(*args.payload);
  } else {
    if (isatty(STDIN_FILENO)) std::cerr << "brokerctl: reading the payload from stdin (end with Ctrl-D)\n";
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return ctx.Fail("cannot read the payload from stdin");
    message->set_payload(std::move(data));
  }

  Connection* conn = ctx.Connect();
  if (conn == nullptr) return kExitFailure;
  v1::PublishResponse response;
  grpc::Status status = conn->Call(conn->data(), &v1::BrokerService::Stub::Publish, request, &response);
  if (!status.ok()) return ctx.RpcFailed(status);
  if (response.positions_size() != 1) {
    return ctx.Fail("brokerd answered the publish with " + std::to_string(response.positions_size()) +
                    " positions instead of 1", "internal");
  }
  const v1::Position& p = response.positions(0);
  if (ctx.json()) {
    ctx.PrintJson({{"topic", args.topic},
                   {"partition", p.partition()},
                   {"offset", p.offset()},
                   {"duplicate", p.duplicate()}});
  } else {
    ctx.out() << (p.duplicate() ? "duplicate of an earlier publish: " : "published to ")
              << args.topic << " partition " << p.partition() << " offset " << p.offset() << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddPublishCommand(CLI::App& root, CommandEnv env) {
  auto args = std::make_shared<PublishArgs>();
  CLI::App* publish = root.add_subcommand("publish", "Publish one message (payload: argument or stdin)");
  publish->add_option("topic", args->topic, "Topic")->required();
  publish->add_option("payload", args->payload, "Payload; '-' or absent: read stdin to its end");
  publish->add_option("-k,--key", args->key, "Partitioning key");
  publish->add_option("-H,--header", args->headers, "Header name=value (repeatable)")
      ->allow_extra_args(false)  // one value per --header: never swallow the payload argument
      ->check(HeaderValidator());
  publish->add_option("--idempotency-key", args->idempotency_key,
                      "Producer dedupe key: a repeat within the window appends nothing");
  publish->add_option("--durability", args->durability, "default (the broker's), sync or async")
      ->check(CLI::IsMember({"default", "sync", "async"}))
      ->capture_default_str();
  publish->footer(
      "Examples:\n"
      "  brokerctl publish orders '{\"id\": 42}' --key customer-7 --header traceparent=00-abc-def-01\n"
      "  cat order.bin | brokerctl publish orders --key customer-7");
  OnRun(publish, env, [args](Context& ctx) { return Publish(ctx, *args); });
}

}  // namespace brokerctl
