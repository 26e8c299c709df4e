// kcat (Debian's kafkacat package) against a real brokerd: -L, -P with keys and headers (and
// nulls), -C -o beginning -e, including an empty partition (kcat -e waits for the high watermark),
// and -G (a balanced consumer group that commits, so a second run starts where the first ended).
#include <gtest/gtest.h>

#include "brokerctl_runner.h"
#include "kafka_fixture.h"

namespace broker::kafka_tests {
namespace {

using testing::CommandResult;
using testing::RunProgram;

class KcatTest : public KafkaBrokerdTest {
 protected:
  CommandResult Kcat(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {KcatBinary(), "-b", bootstrap()});
    return RunProgram(args, {}, input, std::chrono::seconds(60));
  }
};

TEST_F(KcatTest, ListShowsThisBrokerAsControllerAndTheTopics) {
  ASSERT_EQ(CreateTopic("listed", 3), "");
  CommandResult r = Kcat({"-L"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("broker 1 at " + bootstrap() + " (controller)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("topic \"listed\" with 3 partitions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("partition 2, leader 1, replicas: 1, isrs: 1"), std::string::npos) << r.out;
}

TEST_F(KcatTest, ProducedKeysHeadersAndNullsComeBackFromTheBeginning) {
  ASSERT_EQ(CreateTopic("orders", 1), "");
  CommandResult produced =
      Kcat({"-P", "-t", "orders", "-K", ":", "-H", "trace=abc", "-H", "trace=", "-H", "empty="},
           "k1:v1\nk2:v2\n:no-key\n");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  // -Z: an empty key or value is sent as null.
  CommandResult nulls = Kcat({"-P", "-Z", "-t", "orders", "-K", ":"}, "tomb:\n:null-key\n");
  ASSERT_EQ(nulls.exit_code, 0) << nulls.err;
  CommandResult gzip = Kcat({"-P", "-z", "gzip", "-t", "orders"}, "zipped\n");
  ASSERT_EQ(gzip.exit_code, 0) << gzip.err;

  CommandResult consumed =
      Kcat({"-C", "-t", "orders", "-o", "beginning", "-e", "-f", "%o|%K|%k|%S|%s|%h\n"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  // Key and value sizes (%K, %S) are -1 for null, 0 for empty.
  EXPECT_EQ(consumed.out,
            "0|2|k1|2|v1|trace=abc,trace=,empty=\n"
            "1|2|k2|2|v2|trace=abc,trace=,empty=\n"
            "2|0||6|no-key|trace=abc,trace=,empty=\n"
            "3|4|tomb|-1||\n"
            "4|-1||8|null-key|\n"
            "5|-1||6|zipped|\n");
}

TEST_F(KcatTest, ConsumingToTheEndStopsOnEmptyPartitions) {
  ASSERT_EQ(CreateTopic("sparse", 3), "");
  CommandResult produced = Kcat({"-P", "-t", "sparse", "-p", "1"}, "only-in-1\n");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  CommandResult consumed = Kcat({"-C", "-t", "sparse", "-o", "beginning", "-e", "-f", "%p:%s\n"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(consumed.out, "1:only-in-1\n");
  // The producer's partition choice held.
  CommandResult p1 = Kcat({"-C", "-t", "sparse", "-p", "1", "-o", "beginning", "-e"});
  EXPECT_EQ(p1.out, "only-in-1\n");
}

TEST_F(KcatTest, ConsumingFromTheEndOfAnEmptyTopicExits) {
  ASSERT_EQ(CreateTopic("empty", 1), "");
  CommandResult consumed = Kcat({"-C", "-t", "empty", "-o", "end", "-e"});
  EXPECT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(consumed.out, "");
}

TEST_F(KcatTest, GroupConsumerCommitsAndTheNextRunResumesThere) {
  ASSERT_EQ(CreateTopic("jobs", 2), "");
  ASSERT_EQ(Kcat({"-P", "-t", "jobs", "-p", "0"}, "a\nb\n").exit_code, 0);
  ASSERT_EQ(Kcat({"-P", "-t", "jobs", "-p", "1"}, "c\n").exit_code, 0);
  const std::vector<std::string> group = {"-G", "kcat-group", "-X", "auto.offset.reset=earliest",
                                          "-e", "-f", "%p:%s\n", "jobs"};
  CommandResult first = Kcat(group);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("0:a\n0:b\n"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("1:c\n"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.size(), std::string("0:a\n0:b\n1:c\n").size()) << first.out;

  ASSERT_EQ(Kcat({"-P", "-t", "jobs", "-p", "1"}, "d\n").exit_code, 0);
  CommandResult second = Kcat(group);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, "1:d\n") << "the first run's commits hold";
}

TEST_F(KcatTest, ProducingToAnUnknownTopicAutoCreatesIt) {
  CommandResult produced = Kcat({"-P", "-t", "auto-created"}, "first\n");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  CommandResult consumed = Kcat({"-C", "-t", "auto-created", "-o", "beginning", "-e"});
  EXPECT_EQ(consumed.out, "first\n");
}

}  // namespace
}  // namespace broker::kafka_tests
