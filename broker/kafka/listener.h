// KafkaListener: brokerd's Kafka protocol endpoint (--kafka-listen). Accepts TCP connections and
// answers the APIs of kafka/protocol.h with the engine's public API (docs/kafka.md).
//
// Threading (docs/threading.md): one Asio io_context run by `io_threads` threads does only socket
// I/O; each connection's reads, writes and response queue run on its own strand, so requests of a
// connection are answered in the order they came, whatever order they finish in. Requests are
// handled on a separate pool of `worker_threads` (they may block on engine calls, and a Fetch
// waits up to its MaxWaitMs); a Produce completes on the broker's writer thread. A timer on the
// io_context ticks the group coordinator every 100 ms (session and rebalance timeouts); a
// JoinGroup or SyncGroup waiting for a rebalance holds no thread. Asio stays behind the pimpl.
//
// Thread safety: Start, address and Stop are called by one thread (brokerd's main).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/clock.h"
#include "broker/status.h"
#include "kafka/group_coordinator.h"

namespace broker::kafka {

struct ListenerConfig {
  // host:port to listen on; port 0 picks a free port. Only a loopback address is accepted:
  // SASL is not supported yet, so the listener has no authentication.
  std::string listen = "127.0.0.1:9092";
  // host:port that Metadata tells clients to connect to. Empty (default): the listen address
  // with the port actually bound.
  std::string advertise;
  // Largest request frame accepted; a larger size prefix closes the connection (Apache Kafka's
  // socket.request.max.bytes). Default 100 MiB.
  size_t max_request_bytes = 100 << 20;
  // Requests of one connection being handled or waiting for earlier responses; reading from the
  // connection pauses at this many. Default 64.
  size_t max_in_flight_per_connection = 64;
  size_t io_threads = 1;
  // Threads handling requests; one is held by each Fetch waiting for records. Default 16.
  size_t worker_threads = 16;
  // This broker's node id in Metadata (also the controller's). Default 1.
  int32_t node_id = 1;
  // Metadata creates unknown topics it is asked about (brokerd: --auto-create-topics).
  bool auto_create_topics = true;
  // Consumer groups: session timeout bounds, and the clock their timeouts run on (checked every
  // 100 ms). Default: the system clock.
  CoordinatorConfig coordinator;
  std::shared_ptr<Clock> clock = Clock::System();
};

class KafkaListener {
 public:
  // Binds and starts serving `broker`, which must outlive the listener. kInvalidArgument for a bad
  // or non-loopback address, kUnavailable if the address cannot be bound.
  static Result<std::unique_ptr<KafkaListener>> Start(Broker& broker, const ListenerConfig& config);

  ~KafkaListener();  // Stop()

  // The bound address, host:port.
  const std::string& address() const;
  // The address Metadata advertises.
  const std::string& advertised_address() const;

  // Stops accepting, closes every connection, answers JoinGroup and SyncGroup requests waiting for
  // a rebalance, waits for requests in progress (a Produce's publish, a Fetch's wait) to finish,
  // then joins the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit KafkaListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::kafka
