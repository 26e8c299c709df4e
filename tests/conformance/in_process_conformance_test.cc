// The conformance suites over the in-process transport: a fresh embedded broker (RocksDB's
// in-memory Env, real clock, background delivery timers on) per test.
#include <atomic>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/client/client.h"
#include "conformance_test.h"

namespace broker::conformance {
namespace {

class InProcessFixture final : public TransportFixture {
 public:
  void SetUp() override {
    static std::atomic<int> next{0};
    Options options;
    options.in_memory = true;
    options.data_dir = "conformance-" + std::to_string(next.fetch_add(1));
    options.durability = Durability::kAsync;
    auto opened = Broker::Open(std::move(options));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    broker_ = std::move(opened).value();
  }
  void TearDown() override { broker_.reset(); }

  std::unique_ptr<client::Client> NewClient(client::ClientOptions options) override {
    return client::Client::Embedded(*broker_, std::move(options));
  }
  Broker* admin() override { return broker_.get(); }

 private:
  std::unique_ptr<Broker> broker_;
};

const TransportParam kInProcess{"in_process", [] { return std::make_unique<InProcessFixture>(); }};

}  // namespace

BROKER_INSTANTIATE_CONFORMANCE_SUITES(kInProcess);

}  // namespace broker::conformance
