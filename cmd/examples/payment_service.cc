// Payment service: consumes `order.created`, charges the card, and publishes `payment.succeeded`
// or `payment.failed`.
//
// Delivery is at-least-once, so the same event can reach the handler twice, and charging a card
// twice is the one thing a payment service must never do. The handler is therefore wrapped in an
// IdempotentHandler: message ids it has processed are kept in a ProcessedStore (on disk, bounded),
// and a message whose id is there is acked without running the handler again.
//
// Two kinds of duplicates happen here:
//   1. The card gateway hangs for order-1: the consumer keeps a running handler's lease alive
//      only for max_lease_extension (set very short here), so the lease then expires, the broker
//      assumes this consumer is stuck and redelivers. The charge still completes; the redelivery
//      finds order-1's id processed and is skipped. (A merely slow charge is no duplicate: its
//      lease is extended while it runs.)
//   2. The service restarts (the store is reopened from disk), and the order service's outbox
//   relay,
//      recovering from its own crash, publishes order-1 and order-3 again with the same
//      message_id. The restarted service skips both.
//
// Usage: example_payment_service [DATA_DIR]   (default: a temporary directory)
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "broker/broker.h"
#include "broker/client/client.h"
#include "broker/client/idempotent.h"
#include "example_support.h"

namespace {

using broker::client::Client;
using broker::client::ConsumerOptions;
using broker::client::IdempotentHandler;
using broker::client::ProcessedStore;
using broker::client::ReceivedMessage;
using namespace std::chrono_literals;

// The card gateway: what must happen at most once per order.
class CardGateway {
 public:
  bool Charge(const std::string& order, int cents) {
    if (order == "order-1") std::this_thread::sleep_for(400ms);  // a slow gateway call
    std::lock_guard lock(mu_);
    if (cents > 50000) return false;  // declined
    ++charges_[order];
    return true;
  }
  int charges(const std::string& order) {
    std::lock_guard lock(mu_);
    return charges_[order];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> charges_;
};

// order.created events carry the order id as key, the amount in cents as payload, and a stable
// message_id: the same event published again has the same id.
broker::Message OrderCreated(const std::string& order, int cents) {
  return {.key = order,
          .payload = std::to_string(cents),
          .headers = {{"message_id", "order.created/" + order}}};
}

std::mutex log_mu;
void Log(const std::string& line) {
  std::lock_guard lock(log_mu);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int Fail(const broker::Status& status) {
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return 1;
}

// Deliveries of order.created per order, duplicates included.
class DeliveryCount {
 public:
  void Add(const std::string& order) {
    std::lock_guard lock(mu_);
    ++counts_[order];
  }
  int of(const std::string& order) {
    std::lock_guard lock(mu_);
    return counts_[order];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

}  // namespace

int main(int argc, char** argv) {
  examples::DataDir data_dir(argc, argv);
  auto opened = broker::Broker::Open({.data_dir = data_dir.path() + "/broker"});
  if (!opened.ok()) return Fail(opened.status());
  std::unique_ptr<broker::Broker> broker = std::move(opened).value();
  std::unique_ptr<Client> client = Client::Embedded(*broker);
  CardGateway gateway;
  DeliveryCount deliveries;

  // The handler: charge, then announce the outcome. The outcome event carries an idempotency key,
  // so even a repeated announcement would not be appended twice.
  static thread_local bool charge_ran = false;  // lets the log say when a duplicate was skipped
  auto charge = [&](const ReceivedMessage& m) {
    charge_ran = true;
    const std::string order = m.record.key.value_or("?");
    const bool paid = gateway.Charge(order, std::stoi(m.record.payload));
    const std::string topic = paid ? "payment.succeeded" : "payment.failed";
    auto published = client
                         ->Publish(topic, {.key = order,
                                           .payload = m.record.payload,
                                           .idempotency_key = topic + "/" + order})
                         .get();
    if (!published.ok()) throw std::runtime_error(published.status().ToString());
    Log("payments: " + order + (paid ? " charged" : " declined") + " -> " + topic);
  };
  // Counts every delivery, then hands it to the idempotent handler.
  auto run_service = [&](std::shared_ptr<ProcessedStore> store) {
    ConsumerOptions options;
    options.concurrency = 2;
    options.group.ack_timeout = 200ms;  // shorter than order-1's slow charge
    options.max_lease_extension = 100ms;  // and its lease is not kept alive past this
    options.group.backoff = {.initial = 20ms, .multiplier = 2, .max = 1s, .jitter = 0};
    auto handler = IdempotentHandler(std::move(store), charge);
    return client->Subscribe(
        "order.created", "payment-service",
        [&, handler](const ReceivedMessage& m) {
          deliveries.Add(m.record.key.value_or("?"));
          Log("payments: delivery of " + m.record.key.value_or("?") + " (attempt " +
              std::to_string(m.attempt) + ")");
          charge_ran = false;
          handler(m);
          if (!charge_ran)
            Log("payments: " + broker::client::MessageIdOf(m) + " already processed: skipped");
        },
        options);
  };
  auto group_settled = [&] {
    auto info = broker->DescribeGroup("order.created", "payment-service");
    return info.ok() && info->total.unsettled == 0;
  };

  // ---- Run 1 ----------------------------------------------------------------------------------
  const std::string store_dir = data_dir.path() + "/processed-ids";
  {
    auto store = ProcessedStore::Open(store_dir, /*capacity=*/100000);
    if (!store.ok()) return Fail(store.status());
    auto service = run_service(*store);
    if (!service.ok()) return Fail(service.status());
    (void)client->Publish("order.created", OrderCreated("order-1", 4200)).get();
    (void)client->Publish("order.created", OrderCreated("order-2", 99900)).get();  // over the limit
    (void)client->Publish("order.created", OrderCreated("order-3", 1500)).get();
    examples::WaitUntil([&] { return deliveries.of("order-3") > 0 && group_settled(); }, 30s);
    (void)(*service)->Close();
    Log("payments: service stopped");
  }

  // ---- Run 2: a restarted service; the outbox relay re-sends two events. ------------------------
  auto reopened = ProcessedStore::Open(store_dir, /*capacity=*/100000);
  if (!reopened.ok()) return Fail(reopened.status());
  Log("payments: restarted; " + std::to_string((*reopened)->size()) + " processed ids on disk");
  auto service = run_service(*reopened);
  if (!service.ok()) return Fail(service.status());
  (void)client->Publish("order.created", OrderCreated("order-1", 4200)).get();
  (void)client->Publish("order.created", OrderCreated("order-3", 1500)).get();
  examples::WaitUntil([&] { return group_settled(); }, 30s);
  (void)(*service)->Close();

  // ---- Report ----------------------------------------------------------------------------------
  std::printf("\n== ledger ==\n");
  bool at_most_once = true;
  for (const char* order : {"order-1", "order-2", "order-3"}) {
    const int charges = gateway.charges(order);
    at_most_once = at_most_once && charges <= 1;
    std::printf("%s: %d delivery(ies) of order.created, charged %d time(s)\n", order,
                deliveries.of(order), charges);
  }
  auto count = [&](const char* topic) {
    auto info = broker->DescribeTopic(topic);
    return info.ok() ? info->partitions[0].end_offset.value() : 0;
  };
  std::printf("payment.succeeded events: %llu, payment.failed events: %llu\n",
              static_cast<unsigned long long>(count("payment.succeeded")),
              static_cast<unsigned long long>(count("payment.failed")));

  const bool ok = at_most_once && gateway.charges("order-1") == 1 &&
                  gateway.charges("order-3") == 1 && deliveries.of("order-1") >= 3;
  std::printf("\n%s\n", ok ? "payment service example: OK" : "payment service example: UNEXPECTED");
  return ok ? 0 : 1;
}
