#include "commands/backup.h"

#include <memory>
#include <string>

#include "output/format.h"

namespace brokerctl {
namespace {

int Backup(Context& ctx, const std::string& dir) {
  v1::BackupRequest request;
  request.set_dir(dir);
  v1::BackupResponse response;
  if (!ctx.Admin(&AdminStub::Backup, request, &response)) return kExitFailure;
  if (ctx.json()) {
    ctx.PrintJson({{"dir", response.dir()},
                   {"bytes", response.bytes()},
                   {"duration_ms", response.duration_ms()}});
  } else {
    ctx.out() << "backup written to " << response.dir() << " on brokerd's host ("
              << HumanBytes(response.bytes()) << " in "
              << HumanDuration(response.duration_ms() * 1000) << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddBackupCommand(CLI::App& root, CommandEnv env) {
  auto dir = std::make_shared<std::string>();
  CLI::App* backup = root.add_subcommand(
      "backup", "Copy brokerd's data (RocksDB checkpoint) to a new directory on its host");
  backup->add_option("dir", *dir, "Absolute path on brokerd's host; must not exist yet")
      ->required();
  backup->footer(
      "brokerd keeps serving while it copies. On the data directory's filesystem the copy\n"
      "hard-links the data files (fast, little space); elsewhere it copies them, so allow a\n"
      "longer --timeout. Restore: stop brokerd, put the copy in place of the data directory,\n"
      "start brokerd (docs/operations.md).\n"
      "Example:\n"
      "  brokerctl backup /var/backups/brokerd/$(date +%Y%m%dT%H%M%S) --timeout 10m");
  OnRun(backup, env, [dir](Context& ctx) { return Backup(ctx, *dir); });
}

}  // namespace brokerctl
