// What makes brokerd refuse to start, each with one clear line, a `fatal` log event and the exit
// code docs/operations.md documents: a port another process holds (gRPC or metrics), an address
// without a port, and configuration errors.
#include <filesystem>
#include <string>
#include <vector>

#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitCannotListen = 3;

std::string PortOf(const std::string& address) { return address.substr(address.rfind(':') + 1); }

// The address after `marker` up to the end of its line in brokerd's output ("" if absent).
std::string AddressAfter(const std::string& output, const std::string& marker,
                         const std::string& suffix = "") {
  const size_t at = output.find(marker);
  if (at == std::string::npos) return "";
  const size_t end = output.find(suffix.empty() ? "\n" : suffix, at + marker.size());
  return output.substr(at + marker.size(), end - at - marker.size());
}

class BrokerdStartupTest : public BrokerdTest {
 protected:
  int Run(std::vector<std::string> args, std::string* output) {
    return testing::BrokerdProcess::RunToExit(args, output);
  }
};

TEST_F(BrokerdStartupTest, SecondBrokerdOnAHeldPortExits3AndTheFirstKeepsEveryCall) {
  StartBrokerd();
  const std::string address = brokerd_->address();
  std::string output;
  EXPECT_EQ(Run({"--data-dir", Path("second"), "--listen", address}, &output), kExitCannotListen)
      << output;
  EXPECT_NE(output.find("brokerd: cannot listen on " + address + ": port " + PortOf(address) +
                        " is in use by another process"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("level=error event=fatal exit_code=3"), std::string::npos) << output;
  EXPECT_EQ(output.find("listening on"), std::string::npos) << output;

  // Every call still reaches the first brokerd (with SO_REUSEPORT they were split between both).
  auto client = Connect();
  for (int i = 0; i < 6; ++i) {
    auto published = client->Publish("orders", {.payload = "p" + std::to_string(i)}).get();
    ASSERT_TRUE(published.ok()) << published.status().ToString();
    EXPECT_EQ(published->offset.value(), static_cast<uint64_t>(i));
  }
}

TEST_F(BrokerdStartupTest, SecondMetricsListenerOnAHeldPortExits3) {
  StartBrokerd({"--metrics-listen", "127.0.0.1:0"});
  const std::string metrics =
      AddressAfter(brokerd_->Output(), "brokerd: metrics on http://", "/metrics");
  ASSERT_FALSE(metrics.empty()) << brokerd_->Output();
  std::string output;
  EXPECT_EQ(
      Run({"--data-dir", Path("second"), "--listen", "127.0.0.1:0", "--metrics-listen", metrics},
          &output),
      kExitCannotListen)
      << output;
  EXPECT_NE(output.find("cannot listen for metrics on " + metrics + ": port " + PortOf(metrics) +
                        " is in use by another process"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("event=fatal"), std::string::npos) << output;
}

TEST_F(BrokerdStartupTest, AddressWithoutAPortIsAUsageError) {
  for (const std::string flag : {"--listen", "--metrics-listen"}) {
    std::string output;
    EXPECT_EQ(Run({"--data-dir", DataDir(), flag, "localhost"}, &output), kExitUsage) << output;
    EXPECT_NE(output.find(flag + ": address 'localhost' has no port; write HOST:PORT"),
              std::string::npos)
        << output;
    EXPECT_NE(output.find("event=fatal exit_code=2"), std::string::npos) << output;
  }
  std::string output;
  EXPECT_EQ(Run({"--data-dir", DataDir(), "--listen", "::1:7070"}, &output), kExitUsage) << output;
  EXPECT_NE(output.find("without brackets"), std::string::npos) << output;
}

TEST_F(BrokerdStartupTest, VersionPrintsTheVersionAndExits0WithoutOpeningTheDataDir) {
  std::string output;
  EXPECT_EQ(Run({"--data-dir", DataDir() + "/never", "--version"}, &output), 0) << output;
  EXPECT_EQ(output.rfind("brokerd ", 0), 0u) << output;
  EXPECT_FALSE(std::filesystem::exists(DataDir() + "/never"));
}

TEST_F(BrokerdStartupTest, Ipv6ListenAddressIsPrintedWithBrackets) {
  std::string error;
  auto v6 =
      testing::BrokerdProcess::Start(DataDir(), {}, &error, std::chrono::seconds(20), "[::1]:0");
  if (!v6) GTEST_SKIP() << "no IPv6 loopback here: " << error;
  EXPECT_TRUE(v6->address().starts_with("[::1]:")) << v6->address();
  EXPECT_NE(PortOf(v6->address()), "0");
}

}  // namespace
}  // namespace broker::integration
