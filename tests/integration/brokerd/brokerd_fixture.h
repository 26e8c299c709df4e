// A test fixture owning a temp data dir and brokerd processes on it, plus clients for them.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker/client/grpc_transport.h"
#include "brokerd_process.h"

namespace broker::integration {

// Checks `condition` every 10 ms until it holds or `timeout` passes. Only for what brokerd (another
// process) holds and cannot tell this one about; a client's own progress has WaitForStats.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// True once the stats of `source` (a client::Consumer or client::Client) satisfy `condition`.
template <typename Source, typename Condition>
bool StatsReach(const Source& source, Condition condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  return source.WaitForStats(condition, timeout);
}

class BrokerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> next{0};
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("brokerd-it-" + std::to_string(getpid()) + "-" + std::to_string(next.fetch_add(1)));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    brokerd_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string DataDir() const { return (dir_ / "data").string(); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  void StartBrokerd(std::vector<std::string> args = {}, const std::string& listen = "127.0.0.1:0") {
    std::string error;
    brokerd_ = testing::BrokerdProcess::Start(DataDir(), args, &error, std::chrono::seconds(20),
                                              listen);
    ASSERT_TRUE(brokerd_.has_value()) << error;
  }

  client::GrpcTransportOptions Transport() const {
    client::GrpcTransportOptions options;
    options.address = brokerd_->address();
    options.call_timeout = std::chrono::seconds(5);
    return options;
  }

  std::unique_ptr<client::Client> Connect(client::GrpcTransportOptions options) {
    auto connected = client::ConnectGrpc(options);
    EXPECT_TRUE(connected.ok()) << connected.status().ToString();
    return std::move(connected).value();
  }
  std::unique_ptr<client::Client> Connect() { return Connect(Transport()); }

  std::filesystem::path dir_;
  std::optional<testing::BrokerdProcess> brokerd_;
};

}  // namespace broker::integration
