// MetricsServer: brokerd's optional HTTP listener for Prometheus (--metrics-listen). Serves
// GET /metrics (text format 0.0.4) from a callback; every other path is 404. cpp-httplib is
// confined to metrics_server.cc.
//
// Thread safety: Start, then Stop once (or let the destructor stop it). The render callback runs
// on the server's own threads, one scrape at a time per connection.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "broker/status.h"

namespace brokerd {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Binds `listen` ("host:port"; port 0 picks a free one; "[::1]:9090" for IPv6) and starts
  // serving. kInvalidArgument for a malformed address, kUnavailable if it cannot bind.
  static broker::Result<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              Render render);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "host:port" actually bound.
  const std::string& address() const;
  // Stops listening, waits for scrapes in progress. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brokerd
