#include "kafka_fixture.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <chrono>
#include <memory>

namespace broker::kafka_tests {

std::string KcatBinary() {
  for (const char* path : {"/usr/bin/kcat", "/usr/bin/kafkacat"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "kcat";
}

std::unique_ptr<RdKafka::Conf> RdKafkaConfig(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : settings) {
    EXPECT_EQ(conf->set(k, v, err), RdKafka::Conf::CONF_OK) << k << ": " << err;
  }
  return conf;
}

void KafkaBrokerdTest::SetUp() { StartBrokerd("127.0.0.1:0", "127.0.0.1:0"); }

void KafkaBrokerdTest::StartBrokerd(const std::string& kafka_listen, const std::string& listen) {
  std::vector<std::string> args = {"--kafka-listen", kafka_listen};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::string error;
  brokerd_ = testing::BrokerdProcess::Start(dir_.Sub("data"), args, &error,
                                            std::chrono::seconds(20), listen);
  ASSERT_TRUE(brokerd_) << error;
  // Written before the "listening on" line that Start waited for.
  const std::string output = brokerd_->Output();
  const std::string marker = "brokerd: kafka on ";
  const auto at = output.find(marker);
  ASSERT_NE(at, std::string::npos) << output;
  const auto end = output.find('\n', at);
  bootstrap_ = output.substr(at + marker.size(), end - at - marker.size());
}

void KafkaBrokerdTest::KillAndRestart() {
  const std::string listen = brokerd_->address();
  const std::string kafka_listen = bootstrap_;
  brokerd_->Kill();
  brokerd_.reset();
  StartBrokerd(kafka_listen, listen);
}

void KafkaBrokerdTest::TearDown() {
  if (brokerd_) {
    EXPECT_EQ(brokerd_->Stop(), 0) << brokerd_->Output();
  }
}

std::string KafkaBrokerdTest::CreateTopic(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), err, sizeof(err)) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return err;
  }
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)), &rd_kafka_destroy);
  if (!rk) return err;
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(
      rd_kafka_queue_new(rk.get()), &rd_kafka_queue_destroy);
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof(err));
  if (new_topic == nullptr) return err;
  rd_kafka_CreateTopics(rk.get(), &new_topic, 1, nullptr, queue.get());
  rd_kafka_NewTopic_destroy(new_topic);
  // The admin result arrives on the queue; 60 s is far beyond any answer on a loaded machine.
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue.get(), 60000);
  if (event == nullptr) return "no CreateTopics result within 60 s";
  std::string result;
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = rd_kafka_event_error_string(event);
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** topics =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    if (count != 1) {
      result = "expected one topic result";
    } else if (rd_kafka_topic_result_error(topics[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = rd_kafka_err2name(rd_kafka_topic_result_error(topics[0]));
    }
  }
  rd_kafka_event_destroy(event);
  return result;
}

}  // namespace broker::kafka_tests
