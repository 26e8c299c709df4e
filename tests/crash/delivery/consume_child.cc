// consume_child DATA_DIR SEED: consumes the crash workload's group and acks, nacks, rejects or
// drops (lets the lease expire) each delivery at random, reporting every step on stdout in the
// protocol of consume_workload.h, until nothing is left unsettled or it is killed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "broker/broker.h"
#include "consume_workload.h"

namespace broker::consume_crash {
namespace {

// Writes one whole line with one write(), so the parent never sees half of it.
void Report(const std::string& line) {
  const std::string out = line + "\n";
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, out.data() + done, out.size() - done);
    if (n <= 0) std::_Exit(2);  // the parent is gone
    done += static_cast<size_t>(n);
  }
}

std::string Pos(const Record& r) {
  return std::to_string(r.partition.value()) + " " + std::to_string(r.offset.value());
}

int Fail(const std::string& what, const Status& status) {
  Report("E " + what + ": " + status.ToString());
  return 1;
}

int Run(const std::string& data_dir, uint64_t seed) {
  auto opened = Broker::Open(WorkloadOptions(data_dir));
  if (!opened.ok()) return Fail("open", opened.status());
  Broker& broker = **opened;
  SubscribeOptions options;
  options.member = "child-" + std::to_string(::getpid());
  options.max_in_flight = 32;
  options.group = WorkloadGroupConfig();
  auto subscribed = broker.Subscribe(kTopic, kGroup, options);
  if (!subscribed.ok()) return Fail("subscribe", subscribed.status());
  Subscription& sub = **subscribed;
  Report("R");

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<int> delay_ms(0, 30);
  for (;;) {
    auto polled = sub.Poll(8, std::chrono::milliseconds(100));
    if (!polled.ok()) return Fail("poll", polled.status());
    if (polled->empty()) {
      auto info = broker.DescribeGroup(kTopic, kGroup);
      if (!info.ok()) return Fail("describe", info.status());
      if (info->total.unsettled == 0) break;
      continue;
    }
    for (const Delivery& d : *polled) {
      const PartitionId p = d.record.partition;
      const Offset o = d.record.offset;
      Report("D " + Pos(d.record) + " " + std::to_string(d.attempt));
      const int roll = percent(rng);
      Status s;
      std::string done;
      if (roll < 60) {
        s = sub.Ack(p, o);
        done = "A ";
      } else if (roll < 82) {
        std::optional<std::chrono::milliseconds> delay;
        if (roll < 70) delay = std::chrono::milliseconds(delay_ms(rng));
        s = sub.Nack(p, o, delay, "handler failed");
        done = "N ";
      } else if (roll < 85) {
        s = sub.Reject(p, o, "poison");
        done = "J ";
      } else {
        continue;  // drop it: the lease expires after ack_timeout
      }
      if (s.code() == StatusCode::kFailedPrecondition) {
        Report("L " + Pos(d.record));  // the lease expired first (a slow machine): legitimate
      } else if (!s.ok()) {
        return Fail(done + Pos(d.record), s);
      } else {
        Report(done + Pos(d.record));
      }
    }
  }
  Report("X");
  return 0;
}

}  // namespace
}  // namespace broker::consume_crash

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR SEED\n", argv[0]);
    return 64;
  }
  return broker::consume_crash::Run(argv[1], std::strtoull(argv[2], nullptr, 10));
}
