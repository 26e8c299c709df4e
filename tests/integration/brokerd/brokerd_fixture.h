// A test fixture owning a temp data dir and brokerd processes on it, plus clients for them.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/client/grpc_transport.h"
#include "brokerd_process.h"
#include "test_sync.h"

namespace broker::integration {

using testing::Eventually;
using testing::StatsReach;

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
