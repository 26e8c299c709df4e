// brokerctl: the admin CLI for brokerd. Builds the command tree (one file per command group under
// commands/), parses the flags and returns the command's exit code: 0 ok, 1 failure, 2 usage.
//
//   brokerctl groups list
//   brokerctl dlq redrive orders email --error-contains "smtp timeout" --dry-run
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <grpc/support/log.h>

#include "cli/help_formatter.h"
#include "cli/suggest.h"
#include "commands/backup.h"
#include "commands/command.h"
#include "commands/consume.h"
#include "commands/dlq.h"
#include "commands/groups.h"
#include "commands/msg.h"
#include "commands/publish.h"
#include "commands/status.h"
#include "commands/tail.h"
#include "commands/top.h"
#include "commands/topics.h"
#include "global_options.h"
#include "rpc/host_port.h"

namespace {

constexpr char kDescription[] =
    "brokerctl: inspect and operate a brokerd: topics, consumer-group lag, dead-letter queues.";

constexpr char kFooter[] =
    "Environment:\n"
    "  BROKER_ADDR        default for --addr\n"
    "  BROKER_TOKEN       default for --token\n"
    "  BROKER_TOKEN_FILE  default for --token-file\n"
    "\n"
    "Exit codes: 0 ok, 1 failure (brokerd unreachable, unknown name, refused...), 2 usage\n"
    "(bad flags, or a destructive command without --yes).\n"
    "\n"
    "Examples:\n"
    "  brokerctl groups list                       # which groups are behind, by how long\n"
    "  brokerctl groups describe email             # lag per partition, members\n"
    "  brokerctl dlq list                          # every dead-letter queue\n"
    "  brokerctl dlq peek orders email -n 3        # why they died\n"
    "  brokerctl dlq redrive orders email --error-contains 'smtp timeout' --dry-run\n"
    "  brokerctl msg show orders 0 42              # one message in every group\n"
    "  brokerctl consume orders -g email -n 5      # be a member of a group: print and ack\n"
    "  brokerctl --addr broker:7070 --token-file /etc/broker/admin.token stats --json\n"
    "\n"
    "Every command takes --help.";

// gRPC logs connection failures to stderr itself; brokerctl reports them in its own words. Set
// GRPC_VERBOSITY to see gRPC's logs.
void QuietGrpcLogs() {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function([](gpr_log_func_args*) {});
  }
}

void ApplyEnvironment(brokerctl::GlobalOptions& options) {
  if (const char* addr = std::getenv("BROKER_ADDR"); addr != nullptr && *addr != '\0') {
    options.addr = addr;
  }
  if (const char* token = std::getenv("BROKER_TOKEN"); token != nullptr) options.token = token;
  if (const char* file = std::getenv("BROKER_TOKEN_FILE"); file != nullptr) {
    options.token_file = file;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace brokerctl;
  QuietGrpcLogs();
  GlobalOptions options;
  ApplyEnvironment(options);

  CLI::App app{kDescription, "brokerctl"};
  // Before any subcommand is added: subcommands take their parent's formatter when created.
  app.formatter(std::make_shared<HelpFormatter>());
  app.set_version_flag("--version", std::string("brokerctl ") + BROKER_VERSION);
  app.fallthrough();  // global flags may follow the subcommand: brokerctl groups list --json
  app.require_subcommand(1);
  app.footer(kFooter);

  CLI::Option* addr = app.add_option("-a,--addr", options.addr, "brokerd host:port, port required (env BROKER_ADDR)");
  addr->capture_default_str();
  CLI::Option* token = app.add_option("--token", options.token, "Bearer token (env BROKER_TOKEN)");
  CLI::Option* token_file =
      app.add_option("--token-file", options.token_file,
                     "File whose first line is the token (env BROKER_TOKEN_FILE)")
          ->check(CLI::ExistingFile);
  app.add_flag("--tls", options.tls, "Use TLS (implied by the --tls-* files)");
  app.add_option("--tls-ca", options.tls_ca, "PEM CA bundle to verify brokerd (default: system)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", options.tls_cert, "PEM client certificate (mutual TLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", options.tls_key, "PEM key of --tls-cert")->check(CLI::ExistingFile);
  app.add_option("--tls-server-name", options.tls_server_name,
                 "Name to verify brokerd's certificate against (default: the host of --addr)");
  std::string timeout_text = "5s";
  app.add_option("--timeout", timeout_text, "Deadline of each call to brokerd")
      ->check(DurationValidator())
      ->capture_default_str();
  app.add_flag("--json", options.json, "Machine-readable output (stable field names)");
  app.parse_complete_callback([&] {
    // Checked here, not with a validator, so that BROKER_ADDR is checked too. No port is an error
    // rather than gRPC's default (443).
    std::string addr_error;
    if (!broker::net::ParseHostPort(options.addr, "--addr", std::nullopt, &addr_error)) {
      throw CLI::ValidationError(addr_error);
    }
    options.timeout = *ParseDuration(timeout_text);
    // An explicit --token-file wins over BROKER_TOKEN from the environment.
    if (token_file->count() > 0 && token->count() == 0) options.token.clear();
  });

  Context ctx(options, std::cout, std::cerr);
  int exit_code = kExitOk;
  const CommandEnv env{ctx, exit_code};
  AddTopicsCommands(app, env);
  AddGroupsCommands(app, env);
  AddDlqCommands(app, env);
  AddMsgCommands(app, env);
  AddPublishCommand(app, env);
  AddTailCommand(app, env);
  AddConsumeCommand(app, env);
  AddStatusCommands(app, env);
  AddTopCommand(app, env);
  AddBackupCommand(app, env);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (auto explained = ExplainParseError(app, e)) {
      std::cerr << "brokerctl: " << *explained << "\nRun with --help for more information.\n";
      return kExitUsage;
    }
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  std::cout.flush();
  return exit_code;
}
