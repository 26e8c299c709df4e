// crash_publisher DATA_DIR ROUND: the child of durability_crash_test. Opens a broker on DATA_DIR
// in sync mode and publishes the deterministic workload of crash_workload.h from several threads,
// singly and in batches, until it is killed. After each publish is acknowledged it writes one
// line per message to stdout (a pipe to the parent):
//   <partition> <offset> <payload hash> <round> <thread> <id>
// Exits 0 if the parent goes away (EPIPE) and after 60 s as a safety net; exits 2 on any error.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "crash_workload.h"

namespace broker::crash {
namespace {

std::mutex out_mu;
// Safety net only: the parent kills this process long before.
const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "crash_publisher: %s\n", what.c_str());
  std::fflush(stderr);
  _exit(2);
}

// Writes all of `lines` or exits: the parent must never see a torn acknowledgement.
void WriteAcks(const std::string& lines) {
  std::lock_guard lock(out_mu);
  size_t written = 0;
  while (written < lines.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, lines.data() + written, lines.size() - written);
    if (n < 0) _exit(0);  // the parent closed the pipe
    written += static_cast<size_t>(n);
  }
}

void PublishLoop(Broker& broker, int round, int thread) {
  uint64_t id = 0;
  for (uint64_t step = 0; std::chrono::steady_clock::now() < deadline; ++step) {
    // Every third step is a batch of 2..8 messages, the others single publishes.
    const size_t count = step % 3 == 0 ? 2 + step % 7 : 1;
    std::vector<Message> messages;
    std::vector<MessageId> ids;
    for (size_t i = 0; i < count; ++i) {
      const MessageId m{round, thread, id++};
      messages.push_back({.key = Key(m), .payload = Payload(m)});
      ids.push_back(m);
    }
    auto results = broker.PublishBatch(kTopic, std::move(messages));
    if (!results.ok()) Fail("publish failed: " + results.status().ToString());
    std::string lines;
    for (size_t i = 0; i < count; ++i) {
      const PublishResult& r = (*results)[i];
      lines += std::to_string(r.partition.value()) + " " + std::to_string(r.offset.value()) + " " +
               std::to_string(Hash(Payload(ids[i]))) + " " + std::to_string(round) + " " +
               std::to_string(thread) + " " + std::to_string(ids[i].id) + "\n";
    }
    WriteAcks(lines);
  }
}

int Main(int argc, char** argv) {
  if (argc != 3) Fail("usage: crash_publisher DATA_DIR ROUND");
  ::signal(SIGPIPE, SIG_IGN);
  const int round = std::stoi(argv[2]);
  Options options;
  options.data_dir = argv[1];
  options.durability = Durability::kSync;
  options.background_work = false;
  auto broker = Broker::Open(options);
  if (!broker.ok()) Fail("open failed: " + broker.status().ToString());
  const Status created = (*broker)->CreateTopic(kTopic, {.partitions = kPartitions});
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
    Fail("create topic failed: " + created.ToString());
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&broker, round, t] { PublishLoop(**broker, round, t); });
  }
  for (auto& thread : threads) thread.join();
  return 0;
}

}  // namespace
}  // namespace broker::crash

int main(int argc, char** argv) { return broker::crash::Main(argc, argv); }
