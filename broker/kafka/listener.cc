#include "kafka/listener.h"

#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "kafka/connection.h"
#include "kafka/handler.h"
#include "rpc/host_port.h"

namespace broker::kafka {

struct KafkaListener::Impl {
  explicit Impl(const ListenerConfig& config)
      : workers(config.worker_threads),
        acceptor(io),
        tick_timer(io),
        max_request_bytes(config.max_request_bytes),
        max_in_flight(config.max_in_flight_per_connection) {}

  void Accept() {
    acceptor.async_accept(
        asio::make_strand(io), [this](asio::error_code ec, asio::ip::tcp::socket socket) {
          if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
            return Accept();  // e.g. too many open files: keep serving the others
          }
          asio::error_code ignored;
          socket.set_option(asio::ip::tcp::no_delay(true), ignored);
          auto connection = std::make_shared<Connection>(
              std::move(socket), Connection::Shared{handler.get(), &workers, &in_flight,
                                                    max_request_bytes, max_in_flight});
          {
            std::lock_guard lock(mu);
            std::erase_if(connections, [](const auto& weak) { return weak.expired(); });
            connections.push_back(connection);
          }
          connection->Start();
          Accept();
        });
  }

  // Ticks the group coordinator every 100 ms until Stop cancels it (on the io thread).
  void Tick() {
    tick_timer.expires_after(std::chrono::milliseconds(100));
    tick_timer.async_wait([this](asio::error_code ec) {
      if (ec || ticks_stopped) return;
      handler->coordinator().Tick();
      Tick();
    });
  }

  std::unique_ptr<RequestHandler> handler;  // set before the first accept
  asio::io_context io;
  asio::thread_pool workers;
  asio::ip::tcp::acceptor acceptor;  // used on the io thread after Start
  asio::steady_timer tick_timer;     // used on the io thread
  bool ticks_stopped = false;        // used on the io thread
  const size_t max_request_bytes;
  const size_t max_in_flight;
  InFlight in_flight;
  std::vector<std::thread> io_threads;
  std::mutex mu;
  std::vector<std::weak_ptr<Connection>> connections;  // guarded by mu
  std::string address;
  std::string advertised;
  bool stopped = false;
};

Result<std::unique_ptr<KafkaListener>> KafkaListener::Start(Broker& broker,
                                                            const ListenerConfig& config) {
  std::string error;
  auto listen = net::ParseHostPort(config.listen, "--kafka-listen", std::nullopt, &error);
  if (!listen) return Status::InvalidArgument(error);
  asio::error_code ec;
  asio::ip::address ip =
      asio::ip::make_address(listen->host == "localhost" ? "127.0.0.1" : listen->host, ec);
  if (ec) {
    return Status::InvalidArgument("--kafka-listen: '" + listen->host +
                                   "' is not an IP address (or localhost)");
  }
  if (!ip.is_loopback()) {
    return Status::InvalidArgument(
        "--kafka-listen " + config.listen +
        ": the Kafka listener has no authentication yet (SASL is not supported), so it listens "
        "only on a loopback address such as 127.0.0.1");
  }
  std::optional<net::HostPort> advertise;
  if (!config.advertise.empty()) {
    advertise = net::ParseHostPort(config.advertise, "--kafka-advertise", std::nullopt, &error);
    if (!advertise) return Status::InvalidArgument(error);
    if (advertise->port == 0) {
      return Status::InvalidArgument("--kafka-advertise needs a port other than 0");
    }
  }

  auto impl = std::make_unique<Impl>(config);
  const asio::ip::tcp::endpoint endpoint(ip, static_cast<uint16_t>(listen->port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string reason = net::BindFailureReason(*listen);
    return Status::Unavailable("--kafka-listen " + config.listen +
                               ": cannot listen: " + (reason.empty() ? ec.message() : reason));
  }
  const int port = impl->acceptor.local_endpoint().port();
  impl->address = net::HostPort{listen->host, port}.ToString();
  if (!advertise) advertise = net::HostPort{listen->host, port};
  impl->advertised = advertise->ToString();
  HandlerConfig handler_config;
  handler_config.node_id = config.node_id;
  handler_config.auto_create_topics = config.auto_create_topics;
  handler_config.advertised_host = advertise->host;
  handler_config.advertised_port = advertise->port;
  handler_config.clock = config.clock;
  handler_config.coordinator = config.coordinator;
  impl->handler = std::make_unique<RequestHandler>(broker, std::move(handler_config));

  impl->Accept();
  impl->Tick();
  for (size_t i = 0; i < std::max<size_t>(config.io_threads, 1); ++i) {
    impl->io_threads.emplace_back([io = &impl->io] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  return std::unique_ptr<KafkaListener>(new KafkaListener(std::move(impl)));
}

KafkaListener::KafkaListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaListener::~KafkaListener() { Stop(); }

const std::string& KafkaListener::address() const { return impl_->address; }
const std::string& KafkaListener::advertised_address() const { return impl_->advertised; }

void KafkaListener::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Each step waits until it has run on the io thread or strand: after the acceptor is closed no
  // connection is added, and after a connection's close ran no request of it is dispatched.
  std::promise<void> acceptor_closed;
  asio::post(impl_->io, [impl = impl_.get(), &acceptor_closed] {
    asio::error_code ignored;
    impl->acceptor.close(ignored);
    impl->ticks_stopped = true;
    impl->tick_timer.cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& weak : impl_->connections) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (const auto& connection : open) {
    std::promise<void> closed;
    connection->Close(&closed);
    closed.get_future().wait();
  }
  // Requests waiting for a rebalance are answered (to closed connections), and none waits again.
  impl_->handler->coordinator().Shutdown();
  // Completions post to connection strands, so the io threads run until none is left.
  impl_->in_flight.WaitIdle();
  impl_->workers.join();
  impl_->io.stop();
  for (std::thread& t : impl_->io_threads) t.join();
  // Handlers still queued on the io_context (completions of the closed sockets) may hold the last
  // references to their connections. Run them now, while the worker pool their produce strands
  // belong to still exists: left queued, they were destroyed with the io_context after the pool
  // (members go in reverse order), and a connection's strand then touched the freed pool
  // (heap-use-after-free under ASan, ListenerTest, about 1 run in a few hundred).
  impl_->io.restart();
  impl_->io.poll();
}

}  // namespace broker::kafka
