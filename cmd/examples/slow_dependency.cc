// The slow dependency: a responder that sometimes takes longer than its callers will wait.
//
// The storefront asks the inventory service for stock levels with a 100 ms timeout. Most answers
// take a millisecond, but a "full recount" request makes the inventory service call a slow
// warehouse system (650 ms). What keeps this from turning into an outage:
//   - the caller gets deadline_exceeded at its timeout, not whenever the responder finishes;
//   - every request carries an absolute deadline, so requests that waited in line behind the slow
//     one and expired meanwhile are dropped before the handler runs (by the broker before it
//     delivers them, or by the responder if one was already on its way), instead of being worked
//     off for callers who have already given up;
//   - the reply that comes too late is dropped by the caller and counted;
// so at the end nothing is queued, the responder is idle, and the group's lag is zero.
//
// Usage: example_slow_dependency [DATA_DIR]   (default: a temporary directory)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "broker/broker.h"
#include "broker/client/client.h"
#include "example_support.h"

namespace {

using broker::StatusCode;
using broker::client::Client;
using broker::client::ReceivedMessage;
using broker::client::Reply;
using namespace std::chrono_literals;
using Millis = std::chrono::duration<double, std::milli>;

constexpr auto kTimeout = 100ms;
constexpr auto kSlowCall = 650ms;

}  // namespace

int main(int argc, char** argv) {
  examples::DataDir data_dir(argc, argv);
  auto opened = broker::Broker::Open({.data_dir = data_dir.path()});
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open the broker: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<broker::Broker> broker = std::move(opened).value();
  std::unique_ptr<Client> client = Client::Embedded(*broker);

  // ---- Inventory service: one handler thread, so a slow call blocks everything behind it. -----
  std::atomic<int> handled{0};
  auto inventory =
      client->Serve("inventory.stock", "inventory-service", [&](const ReceivedMessage& request) {
        ++handled;
        if (request.record.payload == "full recount") {
          std::this_thread::sleep_for(kSlowCall);  // the warehouse
        }
        return Reply{"42 in stock"};
      });
  if (!inventory.ok()) {
    std::fprintf(stderr, "%s\n", inventory.status().ToString().c_str());
    return 1;
  }

  // ---- Storefront: one request after another, each with the same short timeout. ----------------
  int ok = 0, timed_out = 0;
  Millis slowest_failure{0};
  for (int i = 1; i <= 12; ++i) {
    const std::string what = (i == 4) ? "full recount" : "sku-" + std::to_string(i);
    const auto start = std::chrono::steady_clock::now();
    auto reply = client->Request("inventory.stock", what, kTimeout).get();
    const Millis took = std::chrono::steady_clock::now() - start;
    if (reply.ok()) {
      ++ok;
      std::printf("request %2d (%s): %s in %.1f ms\n", i, what.c_str(), reply->payload.c_str(),
                  took.count());
    } else {
      if (reply.status().code() == StatusCode::kDeadlineExceeded) ++timed_out;
      if (took > slowest_failure) slowest_failure = took;
      std::printf("request %2d (%s): %s after %.1f ms\n", i, what.c_str(),
                  std::string(broker::StatusCodeName(reply.status().code())).c_str(), took.count());
    }
  }

  // ---- Once the slow call is over, the queue drains by itself. --------------------------------
  auto idle = [&] {
    auto info = broker->DescribeGroup("inventory.stock", "inventory-service");
    return info.ok() && info->total.unsettled == 0;
  };
  const bool drained =
      examples::WaitUntil([&] { return idle() && client->stats().late_replies >= 1; }, 10s);
  const auto stats = (*inventory)->stats();
  auto info = broker->DescribeGroup("inventory.stock", "inventory-service");
  (void)(*inventory)->Close();

  std::printf(
      "\ncaller: %d answered, %d deadline_exceeded; slowest failure took %.1f ms "
      "(timeout %lld ms, slow call %lld ms)\n",
      ok, timed_out, slowest_failure.count(), static_cast<long long>(kTimeout.count()),
      static_cast<long long>(kSlowCall.count()));
  const uint64_t dropped_by_broker = info.ok() ? info->counters.expired_requests : 0;
  std::printf(
      "responder: handled %d; expired requests dropped without running the handler: %llu (%llu by "
      "the broker before delivery, %llu by the responder)\n",
      handled.load(),
      static_cast<unsigned long long>(dropped_by_broker + stats.dropped_expired_requests),
      static_cast<unsigned long long>(dropped_by_broker),
      static_cast<unsigned long long>(stats.dropped_expired_requests));
  std::printf("caller: %llu late reply dropped\n",
              static_cast<unsigned long long>(client->stats().late_replies));
  if (info.ok()) {
    std::printf("inventory-service lag: unsettled=%llu in_flight=%llu delayed=%llu\n",
                static_cast<unsigned long long>(info->total.unsettled),
                static_cast<unsigned long long>(info->total.in_flight),
                static_cast<unsigned long long>(info->total.delayed));
  }

  // Failures came back at the caller's timeout, far sooner than the slow call would have taken.
  const bool as_expected = drained && timed_out >= 1 &&
                           dropped_by_broker + stats.dropped_expired_requests >= 1 &&
                           slowest_failure < Millis(kSlowCall) - Millis(200);
  std::printf("\n%s\n",
              as_expected ? "slow dependency example: OK" : "slow dependency example: UNEXPECTED");
  return as_expected ? 0 : 1;
}
