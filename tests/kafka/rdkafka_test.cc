// librdkafka's C++ API (rdkafka++) against a real brokerd: an acks=all producer whose delivery
// reports carry the offsets brokerd assigned, to the partitions the producer chose; a consumer
// (partition assignment, no group) that reads every record back with its key, headers and
// LogAppendTime timestamp; watermarks and offsets for times (ListOffsets).
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>

#include "kafka_fixture.h"

namespace broker::kafka_tests {
namespace {

constexpr int kTimeoutMs = 60000;  // per client call; generous for a loaded machine

struct Delivery {
  RdKafka::ErrorCode error = RdKafka::ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
};

class Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    const auto* id = static_cast<int*>(m.msg_opaque());
    deliveries[*id] = {m.err(), m.partition(), m.offset()};
  }
  std::map<int, Delivery> deliveries;  // by message id; polled on the test's thread
};

// A producer with `settings` whose delivery reports go to `reports`; null (and a test failure)
// if librdkafka refuses the configuration.
std::unique_ptr<RdKafka::Producer> MakeProducer(const std::map<std::string, std::string>& settings,
                                                Reports& reports) {
  auto conf = RdKafkaConfig(settings);
  std::string err;
  EXPECT_EQ(conf->set("dr_cb", &reports, err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  EXPECT_TRUE(producer) << err;
  return producer;
}

// A consumer for assign() (its group id is never used to join: no commits, no rebalance); null
// (and a test failure) if librdkafka refuses it.
std::unique_ptr<RdKafka::KafkaConsumer> MakeAssigningConsumer(const std::string& bootstrap) {
  auto conf = RdKafkaConfig(
      {{"bootstrap.servers", bootstrap}, {"group.id", "unused"}, {"enable.auto.commit", "false"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), err));
  EXPECT_TRUE(consumer) << err;
  return consumer;
}

class RdKafkaTest : public KafkaBrokerdTest {
 protected:
  // Produces `prefix`0..`prefix`{n-1} to `topic`, alternating over its 2 partitions, with the
  // message index as each delivery report's id, and flushes.
  static void ProduceNumbered(RdKafka::Producer& producer, const std::string& topic,
                              const std::string& prefix, std::vector<int>& ids) {
    for (size_t i = 0; i < ids.size(); ++i) {
      ids[i] = static_cast<int>(i);
      const std::string value = prefix + std::to_string(i);
      ASSERT_EQ(producer.produce(topic, static_cast<int32_t>(i % 2),
                                 RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                                 value.size(), nullptr, 0, 0, nullptr, &ids[i]),
                RdKafka::ERR_NO_ERROR);
    }
    ASSERT_EQ(producer.flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
  }
};

TEST_F(RdKafkaTest, AcksAllProducerAndConsumerRoundTrip) {
  ASSERT_EQ(CreateTopic("payments", 3), "");
  Reports reports;
  auto producer = MakeProducer({{"bootstrap.servers", bootstrap()},
                      {"acks", "all"},
                      {"enable.idempotence", "false"},
                      {"compression.codec", "gzip"}}, reports);
  ASSERT_TRUE(producer);

  constexpr int kMessages = 30;
  std::vector<int> ids(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    ids[i] = i;
    const std::string key = "key-" + std::to_string(i % 4);
    const std::string value = "value-" + std::to_string(i);
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("seq", std::to_string(i));
    headers->add("seq", "");  // repeated name, empty value
    const RdKafka::ErrorCode queued = producer->produce(
        "payments", i % 3, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
        value.size(), key.data(), key.size(), 0, headers, &ids[i]);
    ASSERT_EQ(queued, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(queued);
  }
  ASSERT_EQ(producer->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(reports.deliveries.size(), static_cast<size_t>(kMessages));
  std::map<int32_t, int64_t> next_offset;
  for (int i = 0; i < kMessages; ++i) {
    const Delivery& d = reports.deliveries[i];
    EXPECT_EQ(d.error, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(d.error);
    EXPECT_EQ(d.partition, i % 3);
    EXPECT_EQ(d.offset, next_offset[d.partition]++) << i;  // dense, in produce order
  }

  int64_t low = -1, high = -1;
  ASSERT_EQ(producer->query_watermark_offsets("payments", 1, &low, &high, kTimeoutMs),
            RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(low, 0);
  EXPECT_EQ(high, 10);

  // Consume every partition from the beginning (assign, no group).
  auto consumer = MakeAssigningConsumer(bootstrap());
  ASSERT_TRUE(consumer);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (int p = 0; p < 3; ++p) {
    partitions.push_back(
        RdKafka::TopicPartition::create("payments", p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  ASSERT_EQ(consumer->assign(partitions), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(partitions);

  std::map<std::string, std::string> seen;  // value -> "key|partition|headers"
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (seen.size() < kMessages && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    ASSERT_EQ(m->err(), RdKafka::ERR_NO_ERROR) << m->errstr();
    EXPECT_EQ(m->timestamp().type, RdKafka::MessageTimestamp::MSG_TIMESTAMP_LOG_APPEND_TIME);
    std::string headers;
    for (const auto& h : m->headers()->get_all()) {
      headers +=
          h.key() + "=" + std::string(static_cast<const char*>(h.value()), h.value_size()) + ";";
    }
    seen[std::string(static_cast<const char*>(m->payload()), m->len())] =
        *m->key() + "|" + std::to_string(m->partition()) + "|" + headers;
  }
  consumer->close();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(seen["value-" + std::to_string(i)], "key-" + std::to_string(i % 4) + "|" +
                                                      std::to_string(i % 3) +
                                                      "|seq=" + std::to_string(i) + ";seq=;")
        << i;
  }

  // ListOffsets by time: time 0 is before every record, the far future after all of them.
  std::vector<RdKafka::TopicPartition*> times = {
      RdKafka::TopicPartition::create("payments", 0, 0),
      RdKafka::TopicPartition::create("payments", 2, INT64_MAX / 2)};
  ASSERT_EQ(producer->offsetsForTimes(times, kTimeoutMs), RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(times[0]->offset(), 0);
  EXPECT_EQ(times[1]->offset(), -1);
  RdKafka::TopicPartition::destroy(times);
}

// enable.idempotence=true: InitProducerId, then batches numbered per partition; every record is
// acknowledged once at dense offsets in the order produced.
TEST_F(RdKafkaTest, IdempotentProducerAppendsEachRecordOnceInOrder) {
  ASSERT_EQ(CreateTopic("idempotent", 2), "");
  Reports reports;
  auto producer = MakeProducer({{"bootstrap.servers", bootstrap()},
                                {"enable.idempotence", "true"},
                                {"linger.ms", "2"},
                                {"batch.num.messages", "7"}},
                               reports);
  ASSERT_TRUE(producer);
  constexpr int kMessages = 300;
  std::vector<int> ids(kMessages);
  ProduceNumbered(*producer, "idempotent", "i", ids);
  ASSERT_EQ(reports.deliveries.size(), static_cast<size_t>(kMessages));
  std::map<int32_t, int64_t> next_offset;
  for (int i = 0; i < kMessages; ++i) {
    const Delivery& d = reports.deliveries[i];
    ASSERT_EQ(d.error, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(d.error);
    EXPECT_EQ(d.offset, next_offset[d.partition]++) << i;
  }
  int64_t low = -1, high = -1;
  ASSERT_EQ(producer->query_watermark_offsets("idempotent", 0, &low, &high, kTimeoutMs),
            RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(high, kMessages / 2) << "nothing appended twice";
}

TEST_F(RdKafkaTest, ProduceToAPartitionThatDoesNotExistFails) {
  ASSERT_EQ(CreateTopic("small", 1), "");
  Reports reports;
  auto producer = MakeProducer({{"bootstrap.servers", bootstrap()}, {"acks", "all"}, {"message.timeout.ms", "10000"}}, reports);
  ASSERT_TRUE(producer);
  int id = 0;
  std::string value = "x";
  const RdKafka::ErrorCode queued =
      producer->produce("small", 5, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                        nullptr, 0, 0, nullptr, &id);
  if (queued == RdKafka::ERR_NO_ERROR) {
    producer->flush(kTimeoutMs);
    ASSERT_EQ(reports.deliveries.size(), 1u);
    EXPECT_EQ(reports.deliveries[0].error, RdKafka::ERR__UNKNOWN_PARTITION);
  } else {
    EXPECT_EQ(queued, RdKafka::ERR__UNKNOWN_PARTITION);
  }
}

// acks=all is answered only once the write is committed: every delivery report that came back
// before a kill -9 is still there, at its offset, after brokerd restarts. (A process kill keeps
// even async writes; that the commit was fsynced is the engine's durability tests' subject.)
TEST_F(RdKafkaTest, AcknowledgedRecordsSurviveKillNine) {
  ASSERT_EQ(CreateTopic("durable", 2), "");
  Reports reports;
  auto producer = MakeProducer({{"bootstrap.servers", bootstrap()}, {"acks", "all"}, {"linger.ms", "1"}}, reports);
  ASSERT_TRUE(producer);
  constexpr int kMessages = 200;
  std::vector<int> ids(kMessages);
  ProduceNumbered(*producer, "durable", "m", ids);
  producer.reset();
  ASSERT_EQ(reports.deliveries.size(), static_cast<size_t>(kMessages));

  KillAndRestart();

  auto consumer = MakeAssigningConsumer(bootstrap());
  ASSERT_TRUE(consumer);
  std::vector<RdKafka::TopicPartition*> partitions = {
      RdKafka::TopicPartition::create("durable", 0, RdKafka::Topic::OFFSET_BEGINNING),
      RdKafka::TopicPartition::create("durable", 1, RdKafka::Topic::OFFSET_BEGINNING)};
  ASSERT_EQ(consumer->assign(partitions), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(partitions);
  std::map<std::pair<int32_t, int64_t>, std::string> stored;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (stored.size() < kMessages && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    stored[{m->partition(), m->offset()}] =
        std::string(static_cast<const char*>(m->payload()), m->len());
  }
  consumer->close();
  for (int i = 0; i < kMessages; ++i) {
    const Delivery& d = reports.deliveries[i];
    ASSERT_EQ(d.error, RdKafka::ERR_NO_ERROR);
    EXPECT_EQ((stored[{d.partition, d.offset}]), "m" + std::to_string(i)) << i;
  }
}

}  // namespace
}  // namespace broker::kafka_tests
