// Publishes one message and consumes it through an embedded broker, using only installed headers.
//
//   embedded_check DATA_DIR    -> prints "embedded_check: ok" and exits 0
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include <broker/broker.h>
#include <broker/client/client.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: embedded_check DATA_DIR\n");
    return 2;
  }
  auto opened = broker::Broker::Open({.data_dir = argv[1]});
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<broker::Broker> engine = std::move(opened).value();
  auto client = broker::client::Client::Embedded(*engine);

  auto published = client->Publish("install.check", {.key = "k", .payload = "hello"}).get();
  if (!published.ok()) {
    std::fprintf(stderr, "publish: %s\n", published.status().ToString().c_str());
    return 1;
  }

  std::promise<std::string> received;
  std::once_flag once;
  auto consumer = client->Subscribe(
      "install.check", "checker", [&](const broker::client::ReceivedMessage& message) {
        std::call_once(once, [&] { received.set_value(message.record.payload); });
      });
  if (!consumer.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", consumer.status().ToString().c_str());
    return 1;
  }
  auto future = received.get_future();
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    std::fprintf(stderr, "no message consumed within 30 s\n");
    return 1;
  }
  const std::string payload = future.get();
  if (broker::Status close = (*consumer)->Close(); !close.ok()) {
    std::fprintf(stderr, "close: %s\n", close.ToString().c_str());
    return 1;
  }
  if (payload != "hello") {
    std::fprintf(stderr, "consumed '%s', expected 'hello'\n", payload.c_str());
    return 1;
  }
  std::printf("embedded_check: ok (published at partition %u offset %llu, consumed it)\n",
              published->partition.value(),
              static_cast<unsigned long long>(published->offset.value()));
  return 0;
}
