// librdkafka consumer groups (subscribe, not assign) against a real brokerd: two members share a
// topic's partitions, commit synchronously, and ride out a kill -9 of brokerd in the middle:
// every acknowledged record is consumed, and nothing below an offset committed before the kill is
// consumed again after it (commits are the engine group's persisted ack floors).
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <functional>
#include <map>
#include <memory>
#include <set>

#include "brokerctl_runner.h"
#include "kafka_fixture.h"

namespace broker::kafka_tests {
namespace {

constexpr int kTimeoutMs = 60000;
constexpr int kPartitions = 4;
constexpr char kTopic[] = "events";
constexpr char kGroup[] = "workers";

class RdKafkaGroupTest : public KafkaBrokerdTest {
 protected:
  // Produces values prefix0..prefix{n-1} round-robin over the partitions with acks=all; each is
  // acknowledged (flush returns only when every delivery report came).
  void Produce(const std::string& prefix, int n) {
    auto conf = RdKafkaConfig({{"bootstrap.servers", bootstrap()}, {"acks", "all"}});
    std::string err;
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
    ASSERT_TRUE(producer) << err;
    for (int i = 0; i < n; ++i) {
      std::string value = prefix + std::to_string(i);
      ASSERT_EQ(producer->produce(kTopic, i % kPartitions, RdKafka::Producer::RK_MSG_COPY,
                                  value.data(), value.size(), nullptr, 0, 0, nullptr, nullptr),
                RdKafka::ERR_NO_ERROR);
    }
    ASSERT_EQ(producer->flush(kTimeoutMs), RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(producer->outq_len(), 0);
  }

  std::unique_ptr<RdKafka::KafkaConsumer> Member() {
    auto conf = RdKafkaConfig({{"bootstrap.servers", bootstrap()},
                               {"group.id", kGroup},
                               {"enable.auto.commit", "false"},
                               {"auto.offset.reset", "earliest"},
                               {"session.timeout.ms", "6000"},
                               {"heartbeat.interval.ms", "500"},
                               {"reconnect.backoff.max.ms", "500"}});
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf.get(), err));
    EXPECT_TRUE(consumer) << err;
    if (consumer) {
      EXPECT_EQ(consumer->subscribe({kTopic}), RdKafka::ERR_NO_ERROR);
    }
    return consumer;
  }

  struct Seen {
    int member = 0;
    int32_t partition = 0;
    int64_t offset = 0;
    std::string value;
  };

  // Polls both members in turn until `done` holds and every member's positions are committed,
  // committing each member's positions every 10 records on the way; appends what polls got.
  void ConsumeUntil(std::vector<std::unique_ptr<RdKafka::KafkaConsumer>>& members,
                    const std::function<bool()>& done, std::vector<Seen>& seen) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(2 * kTimeoutMs);
    std::vector<int> since_commit(members.size(), 0);
    while (std::chrono::steady_clock::now() < deadline) {
      for (size_t i = 0; i < members.size(); ++i) {
        std::unique_ptr<RdKafka::Message> m(members[i]->consume(100));
        if (m->err() == RdKafka::ERR_NO_ERROR) {
          seen.push_back({static_cast<int>(i), m->partition(), m->offset(),
                          std::string(static_cast<const char*>(m->payload()), m->len())});
          if (++since_commit[i] >= 10) {
            // Fails (and is retried 10 records later) while the group rebalances or brokerd
            // restarts; that only means a later redelivery.
            members[i]->commitSync();
            since_commit[i] = 0;
          }
        }
      }
      if (!done()) continue;
      // A commit refused during a rebalance is retried after the next polls.
      bool committed = true;
      for (auto& member : members) {
        const RdKafka::ErrorCode e = member->commitSync();
        committed = committed && (e == RdKafka::ERR_NO_ERROR || e == RdKafka::ERR__NO_OFFSET);
      }
      if (committed) return;
    }
    ADD_FAILURE() << "not done and committed within " << 2 * kTimeoutMs << " ms";
  }

  static bool Assigned(RdKafka::KafkaConsumer& member) {
    std::vector<RdKafka::TopicPartition*> partitions;
    member.assignment(partitions);
    const bool assigned = !partitions.empty();
    RdKafka::TopicPartition::destroy(partitions);
    return assigned;
  }

  // The group's committed offsets per partition (what OffsetFetch answers).
  std::map<int32_t, int64_t> Committed(RdKafka::KafkaConsumer& member) {
    std::vector<RdKafka::TopicPartition*> partitions;
    for (int p = 0; p < kPartitions; ++p) {
      partitions.push_back(RdKafka::TopicPartition::create(kTopic, p));
    }
    std::map<int32_t, int64_t> out;
    if (member.committed(partitions, kTimeoutMs) == RdKafka::ERR_NO_ERROR) {
      for (auto* tp : partitions) out[tp->partition()] = tp->offset();
    }
    RdKafka::TopicPartition::destroy(partitions);
    return out;
  }
};

TEST_F(RdKafkaGroupTest, TwoMembersShareThePartitionsAndCommitsSurviveAKill) {
  ASSERT_EQ(CreateTopic(kTopic, kPartitions), "");
  Produce("before-", 200);

  std::vector<std::unique_ptr<RdKafka::KafkaConsumer>> members;
  members.push_back(Member());
  members.push_back(Member());
  ASSERT_TRUE(members[0] && members[1]);
  std::vector<Seen> before;
  std::set<std::string> values;
  // Done once every record was consumed and both members hold partitions (the second may join
  // after the first consumed everything; its join rebalances the group).
  auto all_before = [&] {
    for (const Seen& s : before) values.insert(s.value);
    return values.size() >= 200 && Assigned(*members[0]) && Assigned(*members[1]);
  };
  ConsumeUntil(members, all_before, before);
  ASSERT_EQ(values.size(), 200u);
  // Each partition is assigned to one member.
  std::vector<RdKafka::TopicPartition*> assigned0, assigned1;
  members[0]->assignment(assigned0);
  members[1]->assignment(assigned1);
  EXPECT_EQ(assigned0.size() + assigned1.size(), static_cast<size_t>(kPartitions));
  EXPECT_FALSE(assigned0.empty());
  EXPECT_FALSE(assigned1.empty());
  RdKafka::TopicPartition::destroy(assigned0);
  RdKafka::TopicPartition::destroy(assigned1);

  const std::map<int32_t, int64_t> committed = Committed(*members[0]);
  ASSERT_EQ(committed.size(), static_cast<size_t>(kPartitions));
  for (const auto& [p, offset] : committed) {
    EXPECT_EQ(offset, 50) << "partition " << p << ": every record consumed and committed";
  }

  KillAndRestart();
  Produce("after-", 200);

  std::vector<Seen> after;
  std::set<std::string> after_values;
  auto all_after = [&] {
    for (const Seen& s : after) {
      if (s.value.rfind("after-", 0) == 0) after_values.insert(s.value);
    }
    return after_values.size() >= 200;
  };
  ConsumeUntil(members, all_after, after);
  EXPECT_EQ(after_values.size(), 200u) << "every acknowledged record after the restart";
  for (const Seen& s : after) {
    EXPECT_GE(s.offset, committed.at(s.partition))
        << s.value << ": below the offset committed before the kill";
  }
  const std::map<int32_t, int64_t> final_commit = Committed(*members[1]);
  for (const auto& [p, offset] : final_commit) EXPECT_EQ(offset, 100) << "partition " << p;
  for (auto& member : members) member->close();

  // The group is an engine group: brokerctl shows it with its lag (none left).
  testing::CommandResult described = testing::RunBrokerctl(
      {"--addr", brokerd_->address(), "groups", "describe", kGroup, "--topic", kTopic, "--json"});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("\"per_partition\""), std::string::npos) << described.out;
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = described.out.find(needle); at != std::string::npos;
         at = described.out.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_GT(count("\"unsettled\""), 0u) << described.out;
  EXPECT_EQ(count("\"unsettled\": 0,"), count("\"unsettled\"")) << described.out;
}

}  // namespace
}  // namespace broker::kafka_tests
