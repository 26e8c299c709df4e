// The durability contract under kill -9: a child process (crash_publisher) publishes in sync mode
// and reports every acknowledged (partition, offset, payload hash); the parent SIGKILLs it at a
// random moment, reopens the data directory and checks that
//   - every acknowledged record is there with identical key and payload bytes,
//   - every partition's offsets are dense from 0, and what earlier rounds stored is unchanged,
//   - each round continues exactly at the previous round's end offsets (no gap, no reuse),
//   - every record on disk is a whole, valid message of the workload (nothing torn).
// Records written but not yet acknowledged when the kill came may or may not be there.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "crash_workload.h"

extern char** environ;

namespace broker::crash {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRounds = 5;

struct Ack {
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint64_t hash = 0;
  MessageId id;
};

struct StoredRecord {
  std::optional<std::string> key;
  std::string payload;
};
using PartitionLog = std::vector<StoredRecord>;  // index = offset

// Runs crash_publisher for one round and kills it once it has acknowledged `kill_after_acks`
// messages or `kill_after` has passed since its first acknowledgement, whichever is first.
// Returns every acknowledgement it wrote, including those still in the pipe at the kill.
struct RoundOutcome {
  std::vector<Ack> acks;
  size_t acks_at_kill = 0;
  std::chrono::milliseconds lifetime{0};
  std::string error;  // non-empty if the child did not die by our SIGKILL
};

RoundOutcome RunChild(const std::string& data_dir, int round, size_t kill_after_acks,
                      std::chrono::milliseconds kill_after) {
  RoundOutcome outcome;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    outcome.error = "pipe failed";
    return outcome;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  const std::string round_arg = std::to_string(round);
  std::vector<char*> argv = {const_cast<char*>(CRASH_PUBLISHER_PATH),
                             const_cast<char*>(data_dir.c_str()),
                             const_cast<char*>(round_arg.c_str()), nullptr};
  pid_t pid = 0;
  const auto start = Clock::now();
  const int spawned =
      posix_spawn(&pid, CRASH_PUBLISHER_PATH, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    outcome.error = "cannot start " + std::string(CRASH_PUBLISHER_PATH);
    return outcome;
  }

  // Read acknowledgements until it is time to kill; then drain the pipe to EOF.
  const auto hard_deadline = start + std::chrono::milliseconds(1900);
  std::optional<Clock::time_point> kill_at;
  bool killed = false;
  std::string buffer;
  auto parse_lines = [&] {
    size_t line_end;
    while ((line_end = buffer.find('\n')) != std::string::npos) {
      std::istringstream line(buffer.substr(0, line_end));
      buffer.erase(0, line_end + 1);
      Ack ack;
      line >> ack.partition >> ack.offset >> ack.hash >> ack.id.round >> ack.id.thread >>
          ack.id.id;
      if (!line) {
        outcome.error = "unparsable acknowledgement";
        continue;
      }
      outcome.acks.push_back(ack);
    }
  };
  for (;;) {
    if (!killed) {
      if (!kill_at && !outcome.acks.empty()) kill_at = Clock::now() + kill_after;
      const auto now = Clock::now();
      if (outcome.acks.size() >= kill_after_acks || (kill_at && now >= *kill_at) ||
          now >= hard_deadline) {
        ::kill(pid, SIGKILL);
        killed = true;
        outcome.acks_at_kill = outcome.acks.size();
        outcome.lifetime = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      }
    }
    int timeout_ms = -1;  // after the kill: wait for EOF
    if (!killed) {
      const auto until = kill_at ? std::min(*kill_at, hard_deadline) : hard_deadline;
      timeout_ms = static_cast<int>(std::max<int64_t>(
          1, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count()));
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is gone
    buffer.append(chunk, static_cast<size_t>(n));
    parse_lines();
  }
  ::close(fds[0]);
  if (!killed) ::kill(pid, SIGKILL);  // EOF before our kill: it died on its own
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!killed || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    outcome.error += " child ended on its own (status " + std::to_string(status) +
                     "); see its stderr above";
  }
  if (!buffer.empty()) outcome.error += " torn acknowledgement line";
  return outcome;
}

class DurabilityCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = (std::filesystem::path(::testing::TempDir()) /
                 ("broker-crash-" + std::to_string(::getpid())))
                    .string();
    std::filesystem::remove_all(data_dir_);
  }
  void TearDown() override { std::filesystem::remove_all(data_dir_); }

  // Reads every partition of the data directory (in this process, the child being dead).
  void ReadEverything(std::vector<PartitionLog>& logs) {
    Options options;
    options.data_dir = data_dir_;
    options.background_work = false;
    auto broker = Broker::Open(options);
    ASSERT_TRUE(broker.ok()) << broker.status().ToString();
    logs.assign(kPartitions, {});
    for (uint32_t p = 0; p < kPartitions; ++p) {
      Offset next(0);
      for (;;) {
        auto page = (*broker)->Read(kTopic, PartitionId(p), next,
                                    {.max_records = 10000, .max_bytes = 64 << 20});
        ASSERT_TRUE(page.ok()) << page.status().ToString();
        ASSERT_EQ(page->first_offset, Offset(0)) << "partition " << p;
        for (Record& r : page->records) {
          ASSERT_EQ(r.offset, Offset(logs[p].size())) << "gap in partition " << p;
          logs[p].push_back({std::move(r.key), std::move(r.payload)});
        }
        if (logs[p].size() >= page->end_offset.value()) break;
        ASSERT_FALSE(page->records.empty()) << "partition " << p << " ends early";
        next = Offset(logs[p].size());
      }
    }
  }

  std::string data_dir_;
};

TEST_F(DurabilityCrashTest, AcknowledgedRecordsSurviveSigkill) {
  std::random_device entropy;
  const unsigned seed = entropy();
  std::mt19937 rng(seed);
  RecordProperty("seed", std::to_string(seed));
  std::cout << "seed " << seed << "\n";

  std::vector<PartitionLog> previous(kPartitions);  // what the last check found
  size_t total_acks = 0;
  for (int round = 0; round < kRounds; ++round) {
    const size_t kill_after_acks = std::uniform_int_distribution<size_t>(1, 20000)(rng);
    const auto kill_after =
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1200)(rng));
    const RoundOutcome outcome = RunChild(data_dir_, round, kill_after_acks, kill_after);
    ASSERT_EQ(outcome.error, "") << "round " << round;

    std::vector<PartitionLog> logs;
    ASSERT_NO_FATAL_FAILURE(ReadEverything(logs));

    // Earlier rounds' records are unchanged, and this round starts exactly where they end.
    size_t new_records = 0;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      ASSERT_GE(logs[p].size(), previous[p].size()) << "partition " << p << " lost records";
      for (size_t o = 0; o < previous[p].size(); ++o) {
        ASSERT_EQ(logs[p][o].payload, previous[p][o].payload)
            << "partition " << p << " offset " << o << " changed";
        ASSERT_EQ(logs[p][o].key, previous[p][o].key);
      }
      for (size_t o = previous[p].size(); o < logs[p].size(); ++o) {
        // Every new record is a whole message of this round, stored on its key's partition.
        const auto id = ParseId(logs[p][o].payload);
        ASSERT_TRUE(id.has_value()) << "partition " << p << " offset " << o << " is not ours";
        ASSERT_EQ(id->round, round) << "partition " << p << " offset " << o
                                    << " was reused or comes from another round";
        ASSERT_EQ(logs[p][o].payload, Payload(*id)) << "torn record at " << p << "/" << o;
        ASSERT_EQ(logs[p][o].key, Key(*id)) << "partition " << p << " offset " << o;
        ++new_records;
      }
    }

    // Every acknowledged record is present, byte for byte.
    for (const Ack& ack : outcome.acks) {
      ASSERT_EQ(ack.id.round, round);
      ASSERT_LT(ack.partition, kPartitions);
      const PartitionLog& log = logs[ack.partition];
      ASSERT_GE(ack.offset, previous[ack.partition].size())
          << "acknowledged at an offset an earlier round already used";
      ASSERT_LT(ack.offset, log.size())
          << "acknowledged record " << ack.partition << "/" << ack.offset << " is missing";
      const StoredRecord& stored = log[ack.offset];
      ASSERT_EQ(stored.payload, Payload(ack.id)) << ack.partition << "/" << ack.offset;
      ASSERT_EQ(Hash(stored.payload), ack.hash);
      ASSERT_EQ(stored.key, Key(ack.id));
    }
    ASSERT_GE(new_records, outcome.acks.size());

    std::cout << "round " << round << ": killed after " << outcome.lifetime.count() << " ms and "
              << outcome.acks_at_kill << " acks (" << outcome.acks.size()
              << " incl. those in the pipe); " << new_records << " new records on disk, "
              << new_records - outcome.acks.size() << " of them written but unacknowledged\n";
    total_acks += outcome.acks.size();
    previous = std::move(logs);
  }
  size_t total_records = 0;
  for (const auto& log : previous) total_records += log.size();
  std::cout << kRounds << " rounds: " << total_acks << " acknowledged, " << total_records
            << " records on disk, all acknowledged ones intact\n";
  RecordProperty("acknowledged", std::to_string(total_acks));
  RecordProperty("records", std::to_string(total_records));
  EXPECT_GT(total_acks, 0u);
}

}  // namespace
}  // namespace broker::crash
