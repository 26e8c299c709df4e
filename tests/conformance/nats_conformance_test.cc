// The conformance suites over the NATS JetStream transport, against a real 3-node nats-server
// cluster (JetStream, R3 streams) on loopback ports. Starting a cluster takes about a second and
// every test uses its own topics, so one cluster serves the whole binary (ctest runs the binary as
// one test). Same bodies, unchanged; the few behaviours JetStream cannot match are skipped here
// with the reason, and listed in docs/scale-out.md.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "broker/client/nats_transport.h"
#include "conformance_test.h"
#include "nats_cluster.h"

namespace broker::conformance {
namespace {

// The cluster shared by every test of this binary; stopped by the environment at exit.
class NatsClusterEnvironment final : public ::testing::Environment {
 public:
  static NatsClusterEnvironment* Get() {
    static auto* env = static_cast<NatsClusterEnvironment*>(
        ::testing::AddGlobalTestEnvironment(new NatsClusterEnvironment()));
    return env;
  }

  // Starts the cluster on first use; empty string if that failed (error() says why).
  std::string address() {
    if (!cluster_ && error_.empty()) StartCluster();
    return cluster_ ? cluster_->address() : "";
  }
  const std::string& error() const { return error_; }

  void TearDown() override {
    if (cluster_) cluster_->Stop();
    cluster_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

 private:
  void StartCluster() {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nats-conformance-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    cluster_ = testing::NatsCluster::Start(dir_, 3, &error_);
    if (!cluster_) return;
    // JetStream accepts R3 streams once the metadata group has all three peers: wait for that.
    client::NatsTransportOptions options;
    options.address = cluster_->address();
    auto client = client::ConnectNats(options);
    Status last = client.status();
    const bool ready = client.ok() && Eventually(
                                          [&] {
                                            last = (*client)->Publish("cluster-ready", {}).get().status();
                                            return last.ok();
                                          },
                                          std::chrono::seconds(30));
    if (!ready) {
      error_ = "the NATS cluster did not accept an R3 stream: " + last.ToString();
      cluster_.reset();
    }
  }

  std::string dir_;
  std::optional<testing::NatsCluster> cluster_;
  std::string error_;
};

class NatsFixture final : public TransportFixture {
 public:
  void SetUp() override {
    address_ = NatsClusterEnvironment::Get()->address();
    ASSERT_FALSE(address_.empty()) << NatsClusterEnvironment::Get()->error();
  }
  void TearDown() override {}

  std::unique_ptr<client::Client> NewClient(client::ClientOptions options) override {
    client::NatsTransportOptions transport;
    transport.address = address_;
    auto connected = client::ConnectNats(transport, std::move(options));
    EXPECT_TRUE(connected.ok()) << connected.status().ToString();
    return connected.ok() ? std::move(connected).value() : nullptr;
  }
  Broker* admin() override { return nullptr; }

  std::string SkipReason(std::string_view suite, std::string_view test) override {
    // Behaviours JetStream cannot match (docs/scale-out.md, "Differences"), by test.
    static const std::map<std::string, std::string, std::less<>> kDifferences = {};
    auto it = kDifferences.find(std::string(suite) + "." + std::string(test));
    return it == kDifferences.end() ? "" : it->second;
  }

 private:
  std::string address_;
};

const TransportParam kNats{"nats", [] { return std::make_unique<NatsFixture>(); }};

}  // namespace

BROKER_INSTANTIATE_CONFORMANCE_SUITES(kNats);

}  // namespace broker::conformance
