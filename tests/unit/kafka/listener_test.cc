// KafkaListener over real loopback TCP: frames of bad sizes close the connection, pipelined
// requests are answered in request order, and non-loopback addresses are refused.
#include "kafka/listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "kafka_test_util.h"

namespace broker::kafka {
namespace {

using testing::RequestFrame;

// A blocking client socket with a deadline on every read.
class Client {
 public:
  explicit Client(const std::string& address) {
    const auto colon = address.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  void SendFrame(const std::string& frame) {
    Writer w;
    w.Int32(static_cast<int32_t>(frame.size()));
    w.Raw(frame);
    Send(w.data());
  }
  // Reads exactly n bytes; nullopt on close or after 30 s.
  std::optional<std::string> Read(size_t n) {
    std::string out;
    while (out.size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 30000) <= 0) return std::nullopt;
      char buf[4096];
      const ssize_t got = recv(fd_, buf, std::min(sizeof(buf), n - out.size()), 0);
      if (got <= 0) return std::nullopt;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }
  // The next response's correlation id, or nullopt if the connection closed.
  std::optional<int32_t> ReadResponse() {
    auto size = Read(4);
    if (!size) return std::nullopt;
    Reader r(*size);
    auto body = Read(static_cast<size_t>(r.Int32()));
    if (!body) return std::nullopt;
    Reader b(*body);
    return b.Int32();
  }
  // True once the server has closed the connection (EOF), within 30 s.
  bool Closed() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 30000) <= 0) return false;
    char c;
    return recv(fd_, &c, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.in_memory = true;
    options.background_work = false;
    options.data_dir = "kafka-listener-test";
    auto opened = Broker::Open(options);
    ASSERT_TRUE(opened.ok());
    broker_ = std::move(opened).value();
    ListenerConfig config{.listen = "127.0.0.1:0",
                          .max_request_bytes = 1 << 16,
                          .max_in_flight_per_connection = 4,
                          .worker_threads = 4};
    auto started = KafkaListener::Start(*broker_, config);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    listener_ = std::move(started).value();
  }
  void TearDown() override { listener_.reset(); }

  std::string ApiVersions(int32_t correlation_id) {
    return RequestFrame(ApiKey::kApiVersions, 0, correlation_id, [](Writer&) {});
  }
  std::string WaitingFetch(int32_t correlation_id, int32_t max_wait_ms) {
    return RequestFrame(ApiKey::kFetch, 4, correlation_id, [&](Writer& w) {
      w.Int32(-1);
      w.Int32(max_wait_ms);
      w.Int32(1);
      w.Int32(1 << 20);
      w.Int8(0);
      w.Int32(1);
      w.String("t");
      w.Int32(1);
      w.Int32(0);
      w.Int64(0);
      w.Int32(1 << 20);
    });
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<KafkaListener> listener_;
};

TEST_F(ListenerTest, AdvertisesTheBoundAddressByDefault) {
  EXPECT_EQ(listener_->advertised_address(), listener_->address());
  EXPECT_NE(listener_->address(), "127.0.0.1:0");
}

TEST_F(ListenerTest, ResponsesComeInRequestOrderWhateverOrderTheyFinishIn) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  Client client(listener_->address());
  ASSERT_TRUE(client.connected());
  // The fetch waits for a record, so the ApiVersions after it finish first.
  client.SendFrame(WaitingFetch(1, 30000));
  client.SendFrame(ApiVersions(2));
  client.SendFrame(ApiVersions(3));
  ASSERT_TRUE(broker_->Publish("t", {.payload = "x"}).ok());
  EXPECT_EQ(client.ReadResponse(), 1);
  EXPECT_EQ(client.ReadResponse(), 2);
  EXPECT_EQ(client.ReadResponse(), 3);
}

TEST_F(ListenerTest, MoreRequestsThanTheInFlightLimitAreAllAnswered) {
  Client client(listener_->address());
  ASSERT_TRUE(client.connected());
  for (int32_t i = 0; i < 50; ++i) client.SendFrame(ApiVersions(i));
  for (int32_t i = 0; i < 50; ++i) EXPECT_EQ(client.ReadResponse(), i);
}

TEST_F(ListenerTest, OversizedFrameClosesTheConnection) {
  Client client(listener_->address());
  Writer w;
  w.Int32((1 << 16) + 1);
  client.Send(w.data());
  EXPECT_TRUE(client.Closed());
}

TEST_F(ListenerTest, NegativeOrTooSmallFrameSizeClosesTheConnection) {
  for (int32_t size : {-1, 0, 9}) {
    Client client(listener_->address());
    Writer w;
    w.Int32(size);
    client.Send(w.data());
    EXPECT_TRUE(client.Closed()) << size;
  }
}

TEST_F(ListenerTest, UnknownApiClosesTheConnectionAfterEarlierResponses) {
  Client client(listener_->address());
  client.SendFrame(ApiVersions(1));
  Writer w;
  w.Int16(32);  // DescribeConfigs: not implemented
  w.Int16(0);
  w.Int32(2);
  w.NullableString(std::nullopt);
  client.SendFrame(w.Take());
  client.SendFrame(ApiVersions(3));
  EXPECT_EQ(client.ReadResponse(), 1);
  EXPECT_EQ(client.ReadResponse(), std::nullopt);
}

TEST_F(ListenerTest, StopWaitsForAFetchInProgressAndClosesConnections) {
  ASSERT_TRUE(broker_->CreateTopic("t", {}).ok());
  Client client(listener_->address());
  client.SendFrame(ApiVersions(1));
  ASSERT_EQ(client.ReadResponse(), 1);
  client.SendFrame(WaitingFetch(2, 200));
  listener_->Stop();
  EXPECT_TRUE(client.Closed());
}

TEST(ListenerStartTest, RefusesNonLoopbackAndBadAddresses) {
  Options options;
  options.in_memory = true;
  options.background_work = false;
  auto broker = Broker::Open(options);
  ASSERT_TRUE(broker.ok());
  for (const std::string listen : {"0.0.0.0:0", "[::]:0", "no-port", "example.com:9092"}) {
    auto started = KafkaListener::Start(**broker, {.listen = listen});
    ASSERT_FALSE(started.ok()) << listen;
    EXPECT_EQ(started.status().code(), StatusCode::kInvalidArgument) << listen;
  }
  auto bad_advertise =
      KafkaListener::Start(**broker, {.listen = "127.0.0.1:0", .advertise = "h:0"});
  EXPECT_FALSE(bad_advertise.ok());
}

}  // namespace
}  // namespace broker::kafka
