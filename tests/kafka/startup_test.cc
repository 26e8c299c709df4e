// brokerd's Kafka flags: a non-loopback --kafka-listen is refused (no SASL yet), a bad address is
// a usage error, a port in use cannot be listened on; --kafka-advertise reaches Metadata.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "brokerctl_runner.h"
#include "kafka_fixture.h"

namespace broker::kafka_tests {
namespace {

using testing::BrokerdProcess;

TEST(KafkaStartupTest, NonLoopbackListenAddressIsRefused) {
  conformance::TempDir dir;
  for (const std::string address : {"0.0.0.0:0", "[::]:0"}) {
    std::string output;
    const int code = BrokerdProcess::RunToExit(
        {"--data-dir", dir.Sub("data"), "--listen", "127.0.0.1:0", "--kafka-listen", address},
        &output);
    EXPECT_EQ(code, 2) << output;
    EXPECT_NE(output.find("SASL is not supported"), std::string::npos) << output;
  }
}

TEST(KafkaStartupTest, AddressWithoutPortIsAUsageError) {
  conformance::TempDir dir;
  std::string output;
  EXPECT_EQ(BrokerdProcess::RunToExit({"--data-dir", dir.Sub("data"), "--listen", "127.0.0.1:0",
                                       "--kafka-listen", "127.0.0.1"},
                                      &output),
            2)
      << output;
}

TEST(KafkaStartupTest, PortInUseCannotBeListenedOn) {
  // Hold a port by listening on it.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string held = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  conformance::TempDir dir;
  std::string output;
  EXPECT_EQ(BrokerdProcess::RunToExit(
                {"--data-dir", dir.Sub("data"), "--listen", "127.0.0.1:0", "--kafka-listen", held},
                &output),
            3)
      << output;
  close(fd);
}

class AdvertiseTest : public KafkaBrokerdTest {
 protected:
  void SetUp() override {
    extra_args_ = {"--kafka-advertise", "kafka.example:19092"};
    KafkaBrokerdTest::SetUp();
  }
};

TEST_F(AdvertiseTest, MetadataAdvertisesTheGivenAddress) {
  // kcat's bootstrap connection answers Metadata; it then lists the advertised broker.
  testing::CommandResult r = testing::RunProgram(
      {KcatBinary(), "-b", bootstrap(), "-L", "-m", "30"}, {}, "", std::chrono::seconds(60));
  EXPECT_NE(r.out.find("broker 1 at kafka.example:19092 (controller)"), std::string::npos)
      << r.out << r.err;
}

}  // namespace
}  // namespace broker::kafka_tests
