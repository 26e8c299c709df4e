// brokerbench: benchmarks of the embedded engine, one subcommand per workload.
//
//   brokerbench publish --messages 1000000 --payload 128 --window 1000 --durability sync
//
// The workloads mirror those of the peer benchmarks (../shared/bench-peers: W1 publish, W2
// consume + ack, W3 request-reply), so figures can be put side by side. To add a workload, write
// <name>_command.{h,cc} with an Add<Name>Command(app, exit_code) like AddPublishCommand, and add
// one line below and one source to CMakeLists.txt.
#include <CLI/CLI.hpp>

#include "consume_command.h"
#include "hold_command.h"
#include "process_allocator.h"
#include "publish_command.h"
#include "request_command.h"
#include "wakeup_command.h"

int main(int argc, char** argv) {
  process_allocator::ConfigureAllocator();
  CLI::App app{"brokerbench: throughput and latency of the embedded broker engine"};
  app.require_subcommand(1);

  int exit_code = 0;
  brokerbench::AddPublishCommand(app, &exit_code);
  brokerbench::AddConsumeCommand(app, &exit_code);
  brokerbench::AddHoldCommand(app, &exit_code);
  brokerbench::AddRequestCommand(app, &exit_code);
  brokerbench::AddWakeupCommand(app, &exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
