// The NATS JetStream transport: the same Client API on a replicated NATS JetStream cluster, for
// deployments that outgrow one brokerd. Choosing it is configuration: an address
// "nats://host:port,host:port,..." instead of brokerd's. docs/scale-out.md says how topics, groups,
// dead letters and request-reply map onto JetStream and lists every behaviour that differs.
//
// In short: a topic is a stream with one subject per partition; a consumer group is a durable pull
// consumer with explicit acks; dead letters go to the stream of the topic "<topic>.<group>.dlq"
// with the engine's dlq.* headers, written before the original is terminated; producer dedupe is
// the Nats-Msg-Id header within the stream's duplicate window; request-reply uses core NATS
// inboxes.
//
// Thread safety: the transport and everything it returns may be used from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "broker/client/client.h"
#include "broker/client/transport.h"

namespace broker::client {

struct NatsTransportOptions {
  // Seed servers, "nats://host:port,host:port" (the client learns the rest of the cluster from
  // them). Default nats://127.0.0.1:4222.
  std::string address = "nats://127.0.0.1:4222";
  // Connection name shown by the server's monitoring. Default "broker-client".
  std::string name = "broker-client";
  // Replicas of the streams this client creates (auto-created topics and dead-letter topics).
  // 3 survives the loss of one server; 1 for a single server. Default 3.
  int replicas = 3;
  // Partitions (subjects) of the streams this client creates. Default 1.
  uint32_t default_partitions = 1;
  // Producer dedupe window of the streams this client creates (JetStream's duplicate window).
  // Default 2 min, as the embedded broker.
  std::chrono::milliseconds dedupe_window = std::chrono::minutes(2);
  // First token of every subject this transport uses: "<prefix>.<topic>.<partition>" for records,
  // "<prefix>._member..." and "<prefix>._serve..." for presence. Default "broker".
  std::string subject_prefix = "broker";
  // Deadline of each publish, settle and JetStream API call. Default 10 s.
  std::chrono::milliseconds call_timeout = std::chrono::seconds(10);
  // How long the client keeps trying to reconnect after losing every server before giving up
  // (pending requests then fail at once and inboxes report closed). Default 2 min.
  std::chrono::milliseconds reconnect_for = std::chrono::minutes(2);
};

Result<std::unique_ptr<Transport>> MakeNatsTransport(const NatsTransportOptions& options);

// Client::Connect over MakeNatsTransport.
Result<std::unique_ptr<Client>> ConnectNats(const NatsTransportOptions& options,
                                            ClientOptions client_options = {});

// Lag of one consumer group, from JetStream's consumer and stream info (see docs/scale-out.md for
// which fields JetStream can fill). kNotFound if the topic or the group does not exist.
Result<GroupInfo> DescribeNatsGroup(const NatsTransportOptions& options, std::string_view topic,
                                    std::string_view group);

// True if `address` names NATS servers ("nats://..."), so a caller can choose the transport from
// configuration alone.
bool IsNatsAddress(std::string_view address);

}  // namespace broker::client
