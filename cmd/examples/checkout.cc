// Checkout: the hybrid pattern of service communication.
//
// The critical path is synchronous: the order service asks the payment service (request-reply
// with a timeout) and records the order only once payment is approved. Everything after that is
// a side effect, so it is asynchronous: the order service publishes `order.completed` and goes
// on. Email, analytics and inventory each consume the event in their own consumer group, at
// their own pace, and a failure in one never holds up the others:
//   - email fails transiently (its mail server greylists every first attempt); the broker
//     redelivers after a backoff and the second attempt succeeds;
//   - one order has an address no retry can fix; after max_deliveries it lands in email's
//     dead-letter queue, while analytics and inventory process it like any other order.
// At the end the program prints each group's lag and the dead letter.
//
// Usage: example_checkout [DATA_DIR]   (default: a temporary directory)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/client/client.h"
#include "example_support.h"

namespace {

using broker::client::Client;
using broker::client::ConsumerOptions;
using broker::client::ReceivedMessage;
using broker::client::Reply;
using namespace std::chrono_literals;

struct Order {
  std::string id, email, sku;
  int quantity = 0;
  int total_cents = 0;
};

std::string Encode(const Order& o) {
  return o.id + "," + o.email + "," + o.sku + "," + std::to_string(o.quantity) + "," +
         std::to_string(o.total_cents);
}

Order Decode(const std::string& text) {
  std::vector<std::string> f;
  std::stringstream in(text);
  for (std::string field; std::getline(in, field, ',');) f.push_back(field);
  if (f.size() != 5) throw std::invalid_argument("malformed order: " + text);
  return Order{f[0], f[1], f[2], std::stoi(f[3]), std::stoi(f[4])};
}

std::mutex log_mu;
void Log(const std::string& line) {
  std::lock_guard lock(log_mu);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

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

  // ---- Payment service: answers requests; refuses totals over its limit. ----------------------
  auto payments =
      client->Serve("payments.authorize", "payment-service", [](const ReceivedMessage& request) {
        const Order order = Decode(request.record.payload);
        return Reply{order.total_cents <= 50000 ? "approved" : "declined"};
      });

  // ---- The three side-effect consumers, each its own group. ------------------------------------
  std::atomic<int> emails_sent{0}, analytics_orders{0}, analytics_cents{0};
  std::mutex stock_mu;
  std::map<std::string, int> stock = {{"lamp", 10}, {"chair", 10}, {"desk", 10}};

  ConsumerOptions email_options;
  email_options.group.max_deliveries = 3;
  email_options.group.backoff = {.initial = 50ms, .multiplier = 2, .max = 1s, .jitter = 0};
  auto email = client->Subscribe(
      "order.completed", "email",
      [&](const ReceivedMessage& m) {
        const Order order = Decode(m.record.payload);
        const std::string attempt = " (attempt " + std::to_string(m.attempt) + ")";
        if (order.email.find('@') == std::string::npos) {
          Log("email:     " + order.id + " failed" + attempt + ": no valid address");
          throw std::invalid_argument("undeliverable address '" + order.email + "'");
        }
        if (m.attempt == 1) {  // a transient failure: the broker retries after the backoff
          Log("email:     " + order.id + " failed" + attempt + ": greylisted");
          throw std::runtime_error("smtp 451: greylisted, try again later");
        }
        Log("email:     confirmation for " + order.id + " sent to " + order.email + attempt);
        ++emails_sent;
      },
      email_options);
  auto analytics = client->Subscribe("order.completed", "analytics", [&](const ReceivedMessage& m) {
    const Order order = Decode(m.record.payload);
    analytics_cents += order.total_cents;
    ++analytics_orders;
    Log("analytics: counted " + order.id);
  });
  auto inventory = client->Subscribe("order.completed", "inventory", [&](const ReceivedMessage& m) {
    const Order order = Decode(m.record.payload);
    std::lock_guard lock(stock_mu);
    stock[order.sku] -= order.quantity;
    Log("inventory: reserved " + std::to_string(order.quantity) + " x " + order.sku + " for " +
        order.id);
  });
  if (!payments.ok() || !email.ok() || !analytics.ok() || !inventory.ok()) {
    std::fprintf(stderr, "cannot start the services\n");
    return 1;
  }

  // ---- Order service: pay synchronously, then record and announce. -----------------------------
  const std::vector<Order> incoming = {
      {"order-1", "ada@example.com", "lamp", 2, 4998},
      {"order-2", "grace@example.com", "chair", 1, 12900},
      {"order-3", "edsger@example.com", "desk", 1, 89900},  // over the payment limit
      {"order-4", "barbara.example.com", "lamp", 1, 2499},  // poison for email: no '@'
      {"order-5", "alan@example.com", "chair", 4, 25800},
  };
  std::vector<Order> recorded;  // the order service's own database
  for (const Order& order : incoming) {
    auto payment = client->Request("payments.authorize", Encode(order), 2s).get();
    if (!payment.ok()) {
      Log("orders:    " + order.id + " not placed: payment unavailable (" +
          payment.status().ToString() + ")");
      continue;
    }
    if (payment->payload != "approved") {
      Log("orders:    " + order.id + " not placed: payment " + payment->payload);
      continue;
    }
    recorded.push_back(order);
    auto published = client
                         ->Publish("order.completed", {.key = order.id,
                                                       .payload = Encode(order),
                                                       .idempotency_key = "completed/" + order.id})
                         .get();
    if (!published.ok()) {
      Log("orders:    " + order.id +
          " recorded but not announced: " + published.status().ToString());
      continue;
    }
    Log("orders:    " + order.id + " paid and recorded; order.completed at offset " +
        std::to_string(published->offset.value()));
  }

  // ---- Let the consumers catch up, then report. -------------------------------------------------
  const int completed = static_cast<int>(recorded.size());
  auto settled = [&](const char* group) {
    auto info = broker->DescribeGroup("order.completed", group);
    return info.ok() && info->total.unsettled == 0;
  };
  const bool caught_up = examples::WaitUntil(
      [&] {
        return analytics_orders == completed && settled("email") && settled("analytics") &&
               settled("inventory");
      },
      30s);

  std::printf("\n== %d orders placed, %zu declined ==\n", completed,
              incoming.size() - recorded.size());
  std::printf("email: %d confirmations sent\n", emails_sent.load());
  std::printf("analytics: %d orders, revenue %.2f\n", analytics_orders.load(),
              analytics_cents.load() / 100.0);
  for (const auto& [sku, left] : stock) std::printf("inventory: %s stock %d\n", sku.c_str(), left);

  std::printf("\nlag of order.completed by group:\n");
  for (const char* group : {"email", "analytics", "inventory"}) {
    auto info = broker->DescribeGroup("order.completed", group);
    if (!info.ok()) continue;
    std::printf("  %-10s unsettled=%llu in_flight=%llu delayed=%llu dlq_depth=%llu\n", group,
                static_cast<unsigned long long>(info->total.unsettled),
                static_cast<unsigned long long>(info->total.in_flight),
                static_cast<unsigned long long>(info->total.delayed),
                static_cast<unsigned long long>(info->dlq_depth));
  }
  std::printf("\ndead letters of group email (topic order.completed.email.dlq):\n");
  auto dead = broker->ListDeadLetters("order.completed", "email", 10);
  size_t dead_count = 0;
  if (dead.ok()) {
    dead_count = dead->size();
    for (const auto& letter : *dead) {
      std::printf("  %s offset=%llu reason=%s attempts=%u last_error=\"%s\"\n",
                  letter.record.key.value_or("-").c_str(),
                  static_cast<unsigned long long>(letter.original_offset.value()),
                  letter.reason.c_str(), letter.attempts, letter.last_error.c_str());
    }
  }

  (void)(*email)->Close();
  (void)(*analytics)->Close();
  (void)(*inventory)->Close();
  (void)(*payments)->Close();
  client->Close();

  const bool as_expected = caught_up && completed == 4 && emails_sent == 3 && dead_count == 1;
  std::printf("\n%s\n", as_expected ? "checkout example: OK" : "checkout example: UNEXPECTED");
  return as_expected ? 0 : 1;
}
