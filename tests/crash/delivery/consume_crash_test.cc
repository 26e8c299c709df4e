// The delivery contract under kill -9. The test publishes a set of messages, then runs rounds of
// a child process (consume_child) that consumes them and acks, nacks, rejects or drops each one at
// random, reporting every delivery (with its attempt) and every settle that returned OK. Each
// round the child is SIGKILLed at a random moment. Finally a clean consumer in this process
// settles what is left, and the test checks that
//   - every published message ends acked or dead-lettered: none is lost or stuck,
//   - attempt counts never go down: every delivery of a message has a higher attempt than any
//     delivery of it reported before, and none exceeds max_deliveries,
//   - every dead letter is in the dead-letter topic exactly once, with attempts no lower than the
//     last reported delivery (and exactly max_deliveries when that was the reason),
//   - an ack that returned OK well before the kill (kAckMargin, far beyond the ack batching
//     window) is never undone: that message is not delivered again.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "consume_workload.h"

namespace broker::consume_crash {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Position = std::pair<uint32_t, uint64_t>;

constexpr int kMaxRounds = 16;
constexpr auto kRoundsBudget = std::chrono::seconds(22);  // stop starting rounds after this
constexpr auto kRoundDeadline = std::chrono::seconds(15);  // a child that hangs fails the test
constexpr auto kFinalDeadline = std::chrono::seconds(12);
constexpr auto kAckMargin = milliseconds(500);  // 50x Options::ack_flush_interval

struct Event {
  char kind = 0;  // R D A N J L X E, see consume_workload.h
  Position pos;
  uint32_t attempt = 0;
  SteadyClock::time_point seen;
  std::string text;  // E
};

struct Round {
  std::vector<Event> events;
  bool finished = false;  // the child found nothing left and exited 0 before any kill
  std::optional<SteadyClock::time_point> killed_at;
  std::string error;
};

std::optional<Event> ParseEvent(const std::string& line) {
  Event e;
  e.seen = SteadyClock::now();
  std::istringstream in(line);
  in >> e.kind;
  switch (e.kind) {
    case 'R':
    case 'X':
      return e;
    case 'E':
      std::getline(in, e.text);
      return e;
    case 'D':
      in >> e.pos.first >> e.pos.second >> e.attempt;
      break;
    case 'A':
    case 'N':
    case 'J':
    case 'L':
      in >> e.pos.first >> e.pos.second;
      break;
    default:
      return std::nullopt;
  }
  if (!in) return std::nullopt;
  return e;
}

// Runs one child (fork + exec) and SIGKILLs it once it has reported `kill_after_events` events
// or `kill_after` has passed since it was ready, whichever comes first. Returns everything it
// reported, including what was still in the pipe at the kill.
Round RunRound(const std::string& data_dir, uint64_t seed, size_t kill_after_events,
               milliseconds kill_after) {
  Round round;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    round.error = "pipe2 failed";
    return round;
  }
  const std::string seed_arg = std::to_string(seed);
  std::vector<char*> argv = {const_cast<char*>(CONSUME_CHILD_PATH),
                             const_cast<char*>(data_dir.c_str()),
                             const_cast<char*>(seed_arg.c_str()), nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(fds[1], STDOUT_FILENO);
    ::execv(CONSUME_CHILD_PATH, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    round.error = "fork failed";
    return round;
  }

  const auto hard_deadline = SteadyClock::now() + kRoundDeadline;
  std::optional<SteadyClock::time_point> kill_at;
  std::string buffer;
  size_t events_since_ready = 0;
  bool child_done = false;  // it wrote X
  for (;;) {
    const auto now = SteadyClock::now();
    if (!round.killed_at && !child_done &&
        (events_since_ready >= kill_after_events || (kill_at && now >= *kill_at) ||
         now >= hard_deadline)) {
      ::kill(pid, SIGKILL);
      round.killed_at = now;
      if (now >= hard_deadline) round.error = "child hung: killed at the round deadline";
    }
    int timeout_ms = -1;  // once killed or done: wait for EOF, which comes promptly
    if (!round.killed_at && !child_done) {
      const auto until = kill_at ? std::min(*kill_at, hard_deadline) : hard_deadline;
      timeout_ms = static_cast<int>(
          std::max<int64_t>(1, std::chrono::ceil<milliseconds>(until - now).count()));
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
    size_t end;
    while ((end = buffer.find('\n')) != std::string::npos) {
      const std::string line = buffer.substr(0, end);
      buffer.erase(0, end + 1);
      std::optional<Event> e = ParseEvent(line);
      if (!e) {
        round.error += " unparsable line '" + line + "'";
        continue;
      }
      if (e->kind == 'R') kill_at = e->seen + kill_after;
      if (e->kind == 'X') child_done = true;
      if (e->kind == 'E') round.error += " child error:" + e->text;
      if (kill_at) ++events_since_ready;
      round.events.push_back(std::move(*e));
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!buffer.empty()) round.error += " torn line";
  if (round.killed_at) {
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      if (!child_done) round.error += " child ended before the kill (status " + std::to_string(status) + ")";
    }
  } else if (child_done && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    round.finished = true;
  } else {
    round.error += " child ended on its own (status " + std::to_string(status) + ")";
  }
  return round;
}

class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::path(::testing::TempDir()) /
              ("consume-crash-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

std::string Describe(const Position& pos) {
  return "partition " + std::to_string(pos.first) + " offset " + std::to_string(pos.second);
}

// What the test learned about one message from all reports.
struct History {
  uint32_t last_attempt = 0;  // highest reported delivery attempt so far
  int deliveries = 0;
  // An ack reported OK at least kAckMargin before the kill of its round (or by a child that
  // closed cleanly, or by the final consumer): it must never be undone.
  bool durably_acked = false;
  bool acked_in_window = false;  // acked, but too close to the kill to be owed durability
};

TEST(ConsumeCrashTest, KilledConsumersNeverLoseMessagesNorLowerAttempts) {
  const auto test_start = SteadyClock::now();
  uint64_t seed = 20260101;
  if (const char* env = std::getenv("CONSUME_CRASH_SEED")) seed = std::strtoull(env, nullptr, 10);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set CONSUME_CRASH_SEED to repeat another)");
  std::mt19937_64 rng(seed);
  TempDir dir;

  // Publish the workload and fix the group's config.
  std::set<Position> published;
  {
    auto opened = Broker::Open(WorkloadOptions(dir.path()));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Broker& broker = **opened;
    ASSERT_TRUE(broker.CreateTopic(kTopic, {.partitions = kPartitions}).ok());
    ASSERT_TRUE(broker.CreateGroup(kTopic, kGroup, WorkloadGroupConfig()).ok());
    for (uint32_t first = 0; first < kMessages; first += 500) {
      std::vector<Message> batch;
      for (uint32_t i = first; i < std::min(kMessages, first + 500); ++i) {
        batch.push_back({.key = "k" + std::to_string(i % 97),
                         .payload = "job-" + std::to_string(i),
                         .headers = {{"job-id", std::to_string(i)}}});
      }
      auto results = broker.PublishBatch(kTopic, std::move(batch));
      ASSERT_TRUE(results.ok()) << results.status().ToString();
      for (const PublishResult& r : *results) published.emplace(r.partition.value(), r.offset.value());
    }
  }
  ASSERT_EQ(published.size(), kMessages);

  std::map<Position, History> history;
  uint64_t child_deliveries = 0, redeliveries = 0, acks = 0, nacks = 0, rejects = 0;
  uint64_t lease_lost = 0, acks_undone = 0;
  int rounds = 0, kills = 0;
  bool finished = false;
  auto record_delivery = [&](const Position& pos, uint32_t attempt, const std::string& who) {
    ASSERT_TRUE(published.contains(pos)) << who << " got unpublished " << Describe(pos);
    History& h = history[pos];
    EXPECT_GT(attempt, h.last_attempt)
        << who << ": attempt count went down or repeated for " << Describe(pos);
    EXPECT_LE(attempt, kMaxDeliveries) << who << ": delivered past max_deliveries, " << Describe(pos);
    EXPECT_FALSE(h.durably_acked) << who << ": " << Describe(pos)
                                  << " delivered again after an ack that returned OK long before";
    if (h.acked_in_window) {
      ++acks_undone;  // allowed: the ack was inside the batching window at the kill
      h.acked_in_window = false;
    }
    h.last_attempt = std::max(h.last_attempt, attempt);
    ++h.deliveries;
    if (attempt > 1) ++redeliveries;
  };

  // Rounds of kill -9.
  while (rounds < kMaxRounds && SteadyClock::now() - test_start < kRoundsBudget && !finished &&
         !::testing::Test::HasFailure()) {
    const bool long_round = rounds % 3 == 2;  // some rounds live long enough to test old acks
    const size_t kill_after_events = std::uniform_int_distribution<size_t>(
        1, long_round ? 100000 : 3000)(rng);
    const milliseconds kill_after(std::uniform_int_distribution<int>(
        long_round ? 1000 : 10, long_round ? 1800 : 600)(rng));
    Round round = RunRound(dir.path(), rng(), kill_after_events, kill_after);
    ++rounds;
    ASSERT_EQ(round.error, "") << "round " << rounds;
    if (round.killed_at) ++kills;
    finished = round.finished;
    const std::string who = "round " + std::to_string(rounds);
    for (const Event& e : round.events) {
      switch (e.kind) {
        case 'D':
          ++child_deliveries;
          record_delivery(e.pos, e.attempt, who);
          break;
        case 'A': {
          ++acks;
          History& h = history[e.pos];
          if (!round.killed_at || *round.killed_at - e.seen >= kAckMargin) {
            h.durably_acked = true;
          } else {
            h.acked_in_window = true;
          }
          break;
        }
        case 'N':
          ++nacks;
          break;
        case 'J':
          ++rejects;
          break;
        case 'L':
          ++lease_lost;
          break;
        default:
          break;
      }
    }
  }
  ASSERT_FALSE(::testing::Test::HasFailure());

  // A clean consumer settles what is left.
  auto opened = Broker::Open(WorkloadOptions(dir.path()));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Broker& broker = **opened;
  uint64_t final_deliveries = 0;
  {
    SubscribeOptions options;
    options.member = "final";
    auto sub = broker.Subscribe(kTopic, kGroup, options);
    ASSERT_TRUE(sub.ok()) << sub.status().ToString();
    const auto deadline = SteadyClock::now() + kFinalDeadline;
    bool settled = false;
    while (!settled && SteadyClock::now() < deadline && !::testing::Test::HasFailure()) {
      auto got = (*sub)->Poll(256, milliseconds(100));  // waits for work, never spins
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      for (const Delivery& d : *got) {
        const Position pos(d.record.partition.value(), d.record.offset.value());
        ++final_deliveries;
        record_delivery(pos, d.attempt, "final consumer");
        const Status s = (*sub)->Ack(d.record.partition, d.record.offset);
        ASSERT_TRUE(s.ok() || s.code() == StatusCode::kFailedPrecondition) << s.ToString();
        if (s.ok()) history[pos].durably_acked = true;
      }
      if (got->empty()) {
        auto info = broker.DescribeGroup(kTopic, kGroup);
        ASSERT_TRUE(info.ok());
        settled = info->total.unsettled == 0;
      }
    }
    ASSERT_TRUE(settled) << "messages still unsettled after " << kFinalDeadline.count() << " s";
  }
  ASSERT_TRUE(broker.RunDeliveryTimers().ok());

  // Every published message ends acked or dead.
  std::set<Position> dead;
  for (const Position& pos : published) {
    auto states = broker.GetMessageState(kTopic, PartitionId(pos.first), Offset(pos.second));
    ASSERT_TRUE(states.ok()) << states.status().ToString();
    ASSERT_EQ(states->size(), 1u);
    const MessageGroupState& s = states->front();
    EXPECT_TRUE(s.status == MessageStatus::kAcked || s.status == MessageStatus::kDead)
        << Describe(pos) << " ends " << MessageStatusName(s.status);
    if (s.status == MessageStatus::kDead) {
      dead.insert(pos);
      EXPECT_GE(s.attempts, history[pos].last_attempt) << Describe(pos);
    } else {
      EXPECT_GT(history[pos].deliveries, 0) << Describe(pos) << " acked without a reported delivery";
    }
  }
  auto info = broker.DescribeGroup(kTopic, kGroup);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->total.unsettled, 0u);
  EXPECT_EQ(info->dlq_depth, dead.size());

  // Each dead letter exactly once, in the group's list and in the dead-letter topic.
  auto letters = broker.ListDeadLetters(kTopic, kGroup, 0);
  ASSERT_TRUE(letters.ok());
  std::set<Position> listed;
  uint64_t dead_by_max = 0;
  for (const DeadLetter& letter : *letters) {
    const Position pos(letter.original_partition.value(), letter.original_offset.value());
    EXPECT_TRUE(listed.insert(pos).second) << Describe(pos) << " dead-lettered twice";
    EXPECT_GE(letter.attempts, history[pos].last_attempt) << Describe(pos);
    if (letter.reason == "max_deliveries") {
      ++dead_by_max;
      EXPECT_EQ(letter.attempts, kMaxDeliveries) << Describe(pos);
    } else {
      EXPECT_EQ(letter.reason, "rejected") << Describe(pos);
    }
    EXPECT_EQ(letter.record.payload.rfind("job-", 0), 0u);
  }
  EXPECT_EQ(listed, dead);
  std::set<Position> in_topic;
  uint64_t topic_records = 0;
  for (Offset next(0);;) {
    auto read = broker.Read(std::string(kTopic) + "." + kGroup + ".dlq", PartitionId(0), next);
    if (!read.ok() && read.status().code() == StatusCode::kNotFound) break;  // no dead letters
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    for (const Record& r : read->records) {
      ++topic_records;
      std::optional<std::string> p, o;
      for (const auto& [k, v] : r.headers) {
        if (k == "dlq.original_partition") p = v;
        if (k == "dlq.original_offset") o = v;
      }
      ASSERT_TRUE(p && o);
      in_topic.emplace(std::stoul(*p), std::stoull(*o));
    }
    if (read->records.empty() || read->records.back().offset + 1 >= read->end_offset) break;
    next = read->records.back().offset + 1;
  }
  EXPECT_EQ(topic_records, dead.size()) << "the dead-letter topic holds a duplicate or misses one";
  EXPECT_EQ(in_topic, dead);

  const auto elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - test_start);
  std::cout << "[ figures  ] seed " << seed << ": " << rounds << " rounds, " << kills
            << " kills, child finished: " << (finished ? "yes" : "no") << "; " << child_deliveries
            << " deliveries reported by children (" << redeliveries << " redeliveries overall), "
            << acks << " acks, " << nacks << " nacks, " << rejects << " rejects, " << lease_lost
            << " settles after lease expiry, " << acks_undone
            << " acks undone by a kill inside the batching window; final consumer: "
            << final_deliveries << " deliveries; ends: " << (kMessages - dead.size())
            << " acked, " << dead.size() << " dead (" << dead_by_max << " max_deliveries); "
            << elapsed.count() << " ms" << std::endl;
  ::testing::Test::RecordProperty("rounds", rounds);
  ::testing::Test::RecordProperty("kills", kills);
  ::testing::Test::RecordProperty("redeliveries", static_cast<int>(redeliveries));
  ::testing::Test::RecordProperty("dead", static_cast<int>(dead.size()));
}

}  // namespace
}  // namespace broker::consume_crash
