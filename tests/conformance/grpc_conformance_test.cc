// The conformance suites over the gRPC transport, against a real brokerd process per test on a free
// loopback port (async durability, as the in-process run). Same bodies, unchanged: a behaviour
// that differs from the in-process run is a bug.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "broker/client/grpc_transport.h"
#include "brokerd_process.h"
#include "conformance_test.h"

namespace broker::conformance {
namespace {

class GrpcFixture final : public TransportFixture {
 public:
  void SetUp() override {
    static std::atomic<int> next{0};
    data_dir_ =
        std::filesystem::path(::testing::TempDir()) /
        ("grpc-conformance-" + std::to_string(getpid()) + "-" + std::to_string(next.fetch_add(1)));
    std::filesystem::remove_all(data_dir_);
    std::string error;
    brokerd_ = testing::BrokerdProcess::Start(data_dir_, {"--durability", "async"}, &error);
    ASSERT_TRUE(brokerd_.has_value()) << error;
  }
  void TearDown() override {
    if (brokerd_) brokerd_->Stop();
    brokerd_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  std::unique_ptr<client::Client> NewClient(client::ClientOptions options) override {
    client::GrpcTransportOptions transport;
    transport.address = brokerd_->address();
    auto connected = client::ConnectGrpc(transport, std::move(options));
    EXPECT_TRUE(connected.ok()) << connected.status().ToString();
    return connected.ok() ? std::move(connected).value() : nullptr;
  }
  Broker* admin() override { return nullptr; }

 private:
  std::string data_dir_;
  std::optional<testing::BrokerdProcess> brokerd_;
};

const TransportParam kGrpc{"grpc", [] { return std::make_unique<GrpcFixture>(); }};

}  // namespace

BROKER_INSTANTIATE_CONFORMANCE_SUITES(kGrpc);

}  // namespace broker::conformance
