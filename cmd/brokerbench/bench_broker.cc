#include "bench_broker.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace brokerbench {

void AddBrokerFlags(CLI::App& command, BrokerFlags& flags) {
  command.add_option("--data-dir", flags.data_dir,
                     "broker data directory (created if missing, kept); default: a directory of "
                     "its own under $TMPDIR, deleted at exit");
  command.add_flag(
      "--in-memory", flags.in_memory,
      "keep everything in memory (RocksDB's in-memory Env); --data-dir is then a name");
  command
      .add_option_function<std::string>(
          "--durability",
          [&flags](const std::string& name) {
            flags.durability =
                name == "async" ? broker::Durability::kAsync : broker::Durability::kSync;
          },
          "sync: ack after fsync (group commit); async: ack once in the OS")
      ->transform(CLI::IsMember({"sync", "async"}, CLI::ignore_case))
      ->option_text("sync|async (default sync)");
}

broker::Result<std::unique_ptr<broker::Broker>> OpenBroker(const BrokerFlags& flags,
                                                           const std::string& data_dir) {
  broker::Options options;
  options.data_dir = data_dir;
  // RocksDB's in-memory Env cannot resolve a relative path (GetAbsolutePath is not implemented),
  // so the name is made absolute; nothing is created there.
  if (flags.in_memory) options.data_dir = std::filesystem::absolute(data_dir).string();
  options.in_memory = flags.in_memory;
  options.durability = flags.durability;
  return broker::Broker::Open(std::move(options));
}

broker::Result<std::string> MakeRunDirectory() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/brokerbench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return broker::Status::Unavailable("cannot create a data directory from " + pattern + ": " +
                                       std::strerror(errno) + " (or pass --data-dir)");
  }
  return pattern;
}

std::string FreshTopicName(std::string_view workload) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  return "bench-" + std::string(workload) + "-" + stamp + "-" + std::to_string(getpid()) + "-" +
         std::to_string(micros);
}

std::string_view DurabilityName(broker::Durability durability) {
  switch (durability) {
    case broker::Durability::kSync:
      return "sync";
    case broker::Durability::kAsync:
      return "async";
  }
  return "unknown";
}

}  // namespace brokerbench
