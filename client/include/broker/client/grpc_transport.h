// The gRPC transport: a Client talking to brokerd. Same behaviour as in-process; when brokerd
// restarts, subscriptions rejoin by themselves, publishes in flight fail with kUnavailable (retry
// them with their idempotency key), and pending requests fail at once instead of hanging.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "broker/client/client.h"
#include "broker/client/transport.h"

namespace broker::client {

struct GrpcTransportOptions {
  // brokerd's address, "host:port" (a "grpc://" prefix is accepted). Default 127.0.0.1:7070.
  std::string address = "127.0.0.1:7070";
  // Bearer token sent as `authorization: Bearer <token>`; empty: none.
  std::string token;
  // TLS: PEM CA bundle to verify brokerd; empty: plaintext. client_cert/key for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Deadline of each unary call and of each settle (ack, nack, ...). Default 10 s.
  std::chrono::milliseconds call_timeout = std::chrono::seconds(10);
  // Calls with a deadline (publishes, replies, admin calls) wait up to call_timeout for brokerd to
  // be reachable instead of failing with kUnavailable at once: for a service that starts before
  // brokerd, or rides out its restart. They then end with kDeadlineExceeded if it stays away.
  bool wait_for_ready = false;
  // Transports with the same address, TLS files and connection number share one HTTP/2
  // connection (gRPC multiplexes every call on it); a different number opens a separate TCP
  // connection, e.g. to spread heavy streams over several. Default 0.
  int connection = 0;
};

Result<std::unique_ptr<Transport>> MakeGrpcTransport(const GrpcTransportOptions& options);

// Client::Connect over MakeGrpcTransport.
Result<std::unique_ptr<Client>> ConnectGrpc(const GrpcTransportOptions& options,
                                            ClientOptions client_options = {});

}  // namespace broker::client
