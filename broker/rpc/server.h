// BrokerServer: a grpc::Server exposing BrokerService and AdminService over one broker::Broker,
// with gRPC health checking and server reflection.
//
// Thread safety: Start once, then Shutdown once (from any thread); port() any time after Start.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "rpc/auth.h"

namespace broker::rpc {

struct ServerConfig {
  // host:port; port 0 picks a free one (see BrokerServer::address()). Default loopback.
  std::string listen = "127.0.0.1:7070";
  // TLS: PEM file paths. Both cert and key enable TLS; client_ca additionally requires and
  // verifies client certificates (mutual TLS).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // Largest accepted request frame. Default 16 MiB; larger ones get RESOURCE_EXHAUSTED.
  int max_receive_bytes = 16 << 20;
  // Threads for engine calls that may block. Default 4.
  size_t executor_threads = 4;
};

class BrokerServer {
 public:
  // `broker` must outlive the server. kInvalidArgument for a malformed `config.listen` (it needs a
  // port) or unreadable TLS files; kUnavailable if it cannot listen (the port is held by another
  // process: SO_REUSEPORT is off, so a second brokerd can never share it; or the host is not local).
  static Result<std::unique_ptr<BrokerServer>> Start(Broker& broker, const ServerConfig& config,
                                                     Authorizer auth, std::string data_dir);
  ~BrokerServer();
  // "host:port" actually bound.
  const std::string& address() const;
  // Stops accepting calls, lets in-flight calls finish until `grace` passes (then cancels
  // them), then stops the executor. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);
  void Wait();

 private:
  struct Impl;
  explicit BrokerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::rpc
