// The Kafka tier's fixture: a real brokerd with --kafka-listen on a free loopback port and its own
// data directory, and topic creation through librdkafka's admin API (CreateTopics over the wire).
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "brokerd_process.h"
#include "temp_dir.h"

namespace broker::kafka_tests {

// The kcat binary: "kcat" on bookworm; older Debian releases named it kafkacat.
std::string KcatBinary();

// A librdkafka global configuration with `settings` (a test failure names a refused one).
std::unique_ptr<RdKafka::Conf> RdKafkaConfig(const std::map<std::string, std::string>& settings);

class KafkaBrokerdTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Starts brokerd (SetUp and KillAndRestart), its Kafka listener on `kafka_listen`.
  void StartBrokerd(const std::string& kafka_listen, const std::string& listen);
  void TearDown() override;

  // Creates `topic` with `partitions` through the Kafka CreateTopics API; the error text if not.
  std::string CreateTopic(const std::string& topic, int partitions);

  // Kills brokerd with SIGKILL and starts it again on the same data directory and addresses.
  void KillAndRestart();

  // host:port of brokerd's Kafka listener.
  const std::string& bootstrap() const { return bootstrap_; }

  // Extra brokerd flags for a test's fixture (before SetUp).
  std::vector<std::string> extra_args_;
  conformance::TempDir dir_;
  std::optional<testing::BrokerdProcess> brokerd_;
  std::string bootstrap_;
};

}  // namespace broker::kafka_tests
