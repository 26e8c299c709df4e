#include "metrics_server.h"

#include <sys/socket.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "rpc/host_port.h"

namespace brokerd {
namespace {

// Scrapes are rare and cheap to serve one after another: two threads leave room for a slow one.
constexpr size_t kServerThreads = 2;

// httplib's default also sets SO_REUSEPORT, which would let a second brokerd bind the same port
// silently; only SO_REUSEADDR (quick restarts) is wanted.
void ReuseAddressOnly(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::string address;
  std::once_flag stop_once;
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() { Stop(); }

broker::Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    Render render) {
  std::string error;
  const auto parsed = broker::net::ParseHostPort(listen, "--metrics-listen", std::nullopt, &error);
  if (!parsed) return broker::Status::InvalidArgument(error);
  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server.set_socket_options(ReuseAddressOnly);
  server.set_read_timeout(std::chrono::seconds(5));
  server.set_write_timeout(std::chrono::seconds(5));
  server.Get("/metrics",
             [render = std::move(render)](const httplib::Request&, httplib::Response& response) {
               response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
             });
  server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("brokerd: Prometheus metrics are at /metrics\n", "text/plain");
  });

  int port = parsed->port;
  const bool bound = port == 0 ? (port = server.bind_to_any_port(parsed->host)) > 0
                               : server.bind_to_port(parsed->host, port);
  if (!bound) {
    std::string reason = broker::net::BindFailureReason(*parsed);
    if (reason.empty()) reason = "the HTTP server refused the address";
    return broker::Status::Unavailable("cannot listen for metrics on " + listen + ": " + reason +
                                       "; choose another --metrics-listen");
  }
  broker::net::HostPort address = *parsed;
  address.port = port;
  impl->address = address.ToString();
  impl->thread = std::thread([server = &impl->server] { server->listen_after_bind(); });
  // httplib's stop() does nothing before the accept loop runs, so Stop() could not end a server
  // that has not started yet: wait for it here (it starts at once; the bound is a safety net).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server.is_running()) {
    impl->thread.join();  // not running after that long: its accept loop has already ended
    return broker::Status::Internal("the metrics listener on " + listen + " did not start");
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

const std::string& MetricsServer::address() const { return impl_->address; }

void MetricsServer::Stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->server.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
  });
}

}  // namespace brokerd
