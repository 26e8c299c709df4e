// RequestHandler: answers one Kafka request frame with the engine's public API. Decoding,
// version checks and the mapping to engine calls live here; sockets and ordering live in
// connection.h.
//
// Thread safety: Handle may run on any number of threads at once; the handler holds constants,
// the engine, the group coordinator, the offset store and the producer sequences (all
// thread-safe). Handle blocks (topic creation, reads, a fetch's wait of up to its MaxWaitMs, a
// commit's group write), so it runs on the listener's worker pool, never on an I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/clock.h"
#include "kafka/errors.h"
#include "kafka/group_coordinator.h"
#include "kafka/messages.h"
#include "kafka/offset_store.h"
#include "kafka/producer_sequences.h"

namespace broker::kafka {

// A record with a null value (a Kafka tombstone) is stored with an empty payload and this header,
// last; Fetch strips it and serves the null. Producers may not send a header of this name.
inline constexpr std::string_view kNullValueHeader = "kafka.null_value";

struct HandlerConfig {
  int32_t node_id = 1;
  std::string advertised_host = "127.0.0.1";
  int32_t advertised_port = 9092;
  std::string cluster_id = "brokerd";
  // Metadata for an unknown topic creates it (1 partition), as Kafka's auto.create.topics.enable,
  // when the request allows it. brokerd passes --auto-create-topics.
  bool auto_create_topics = true;
  // Longest a Fetch waits for records, whatever its MaxWaitMs asks.
  int32_t max_fetch_wait_ms = 30000;
  // Bound on what a gzip batch may inflate to (a decompression bomb is refused).
  size_t max_inflated_batch_bytes = 64 << 20;
  // Bounds of the idempotent producers' sequence state (producer_sequences.h).
  SequenceLimits producer_sequences;
  // Time of the group coordinator's session and rebalance timeouts and of idle producers.
  // Default: the system clock.
  std::shared_ptr<Clock> clock = Clock::System();
  CoordinatorConfig coordinator;
};

// What to do with a request once handled.
struct Reply {
  enum class Kind { kRespond, kNoResponse, kClose };
  Kind kind = Kind::kClose;
  std::string frame;  // kRespond: the whole response frame, size prefix included
};

class RequestHandler {
 public:
  using Done = std::function<void(Reply)>;

  RequestHandler(Broker& broker, HandlerConfig config);

  // Handles one request frame (without its size prefix). `done` runs exactly once: on this
  // thread; for a Produce on the broker's writer thread; for a JoinGroup or SyncGroup that waits
  // for a rebalance on the thread of the request (or coordinator tick) that completes it. A frame
  // that cannot be parsed, an unknown API key, or an unsupported version of an API other than
  // ApiVersions closes the connection, as Apache Kafka does; ApiVersions of an unknown version
  // answers UNSUPPORTED_VERSION in v0 with the supported ranges.
  void Handle(std::string frame, Done done);

  // The listener ticks it (timeouts) and shuts it down (waiting requests) when it stops.
  GroupCoordinator& coordinator() { return coordinator_; }

 private:
  Reply ApiVersions(const RequestHeader& header, Reader& in);
  Reply Metadata(const RequestHeader& header, Reader& in);
  Reply CreateTopics(const RequestHeader& header, Reader& in);
  Reply ListOffsets(const RequestHeader& header, Reader& in);
  Reply Fetch(const RequestHeader& header, Reader& in);
  void Produce(const RequestHeader& header, Reader& in, Done done);
  Reply InitProducerId(const RequestHeader& header, Reader& in);
  // Group APIs (group_handlers.cc).
  Reply FindCoordinator(const RequestHeader& header, Reader& in);
  void JoinGroup(const RequestHeader& header, Reader& in, Done done);
  void SyncGroup(const RequestHeader& header, Reader& in, Done done);
  Reply Heartbeat(const RequestHeader& header, Reader& in);
  Reply LeaveGroup(const RequestHeader& header, Reader& in);
  Reply OffsetCommit(const RequestHeader& header, Reader& in);
  Reply OffsetFetch(const RequestHeader& header, Reader& in);
  Reply DescribeGroups(const RequestHeader& header, Reader& in);

  Broker& broker_;
  const HandlerConfig config_;
  GroupCoordinator coordinator_;
  OffsetStore offsets_;
  ProducerSequences sequences_;
};

}  // namespace broker::kafka
