// Interest retention against a real brokerd: a drained topic's stored size falls to its floor (the
// background retention pass deletes what the group settled), and the max_bytes cap answers
// RESOURCE_EXHAUSTED, then accepts publishes again by itself once the group catches up.
//
// INTEREST_IT_MESSAGES (default 100000) sets how many messages the drain test publishes; the
// figures it prints are what docs/operations.md and the issue report quote.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "broker/v1/admin.grpc.pb.h"
#include "broker/v1/broker.grpc.pb.h"
#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

// "name size" of every file under `dir`, one per line: what a failed disk-space check prints.
std::string DirectoryListing(const std::string& dir) {
  std::string out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    out += entry.path().filename().string() + " " + std::to_string(entry.file_size(ec)) + "\n";
  }
  return out;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

class BrokerdInterestTest : public BrokerdTest {
 protected:
  void SetUp() override {
    BrokerdTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(StartBrokerd());
    channel_ = grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::AdminService::NewStub(channel_);
    data_ = v1::BrokerService::NewStub(channel_);
  }

  void CreateInterestTopic(const std::string& topic, uint64_t max_bytes) {
    v1::CreateTopicRequest request;
    request.set_name(topic);
    request.mutable_config()->set_retention(v1::RETENTION_POLICY_INTEREST);
    request.mutable_config()->set_max_bytes(max_bytes);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::TopicInfo info;
    const grpc::Status status = admin_->CreateTopic(&context, request, &info);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(info.config().retention(), v1::RETENTION_POLICY_INTEREST);
    ASSERT_EQ(info.config().max_bytes(), max_bytes);

    v1::CreateGroupRequest group;
    group.set_topic(topic);
    group.set_group("workers");
    grpc::ClientContext group_context;
    group_context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::GroupInfo group_info;
    const grpc::Status created = admin_->CreateGroup(&group_context, group, &group_info);
    ASSERT_TRUE(created.ok()) << created.error_message();
  }

  grpc::Status Publish(const std::string& topic, int count, const std::string& payload) {
    v1::PublishRequest request;
    request.set_topic(topic);
    for (int i = 0; i < count; ++i) request.add_messages()->set_payload(payload);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::PublishResponse response;
    return data_->Publish(&context, request, &response);
  }

  v1::TopicInfo Describe(const std::string& topic) {
    v1::DescribeTopicRequest request;
    request.set_name(topic);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::TopicInfo info;
    const grpc::Status status = admin_->DescribeTopic(&context, request, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }
  static uint64_t StoredBytes(const v1::TopicInfo& info) {
    uint64_t bytes = 0;
    for (const auto& p : info.partitions()) bytes += p.bytes();
    return bytes;
  }

  // Leases and acks `count` messages of group "workers" through the gRPC transport.
  void Drain(const std::string& topic, int count) {
    auto transport = client::MakeGrpcTransport(Transport());
    ASSERT_TRUE(transport.ok());
    auto subscription =
        (*transport)->Subscribe(topic, "workers", {.member = "drainer", .max_in_flight = 1024});
    ASSERT_TRUE(subscription.ok()) << subscription.status().ToString();
    for (int acked = 0; acked < count;) {
      auto got = (*subscription)->Poll(1024, 30s);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_FALSE(got->empty()) << "after " << acked;
      for (const Delivery& d : *got) {
        ASSERT_TRUE((*subscription)->Ack(d.record.partition, d.record.offset).ok());
        ++acked;
      }
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::BrokerService::Stub> data_;
};

TEST_F(BrokerdInterestTest, ADrainedTopicFallsToItsFloor) {
  int messages = 100000;
  if (const char* env = std::getenv("INTEREST_IT_MESSAGES")) messages = std::atoi(env);
  ASSERT_GT(messages, 0);
  ASSERT_NO_FATAL_FAILURE(CreateInterestTopic("work", uint64_t{1} << 30));
  const std::string payload(100, 'w');
  constexpr int kBatch = 1000;
  for (int sent = 0; sent < messages; sent += kBatch) {
    const grpc::Status status = Publish("work", std::min(kBatch, messages - sent), payload);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const uint64_t full = StoredBytes(Describe("work"));
  const uint64_t dir_full = DirectoryBytes(DataDir());
  EXPECT_GT(full, static_cast<uint64_t>(messages) * 100);

  ASSERT_NO_FATAL_FAILURE(Drain("work", messages));
  // The retention pass runs every 10 s in brokerd: wait for it, with room for a loaded machine.
  uint64_t after = full;
  EXPECT_TRUE(Eventually(
      [&] {
        after = StoredBytes(Describe("work"));
        return after == 0;
      },
      90s))
      << "stored bytes still " << after << " of " << full;
  const v1::TopicInfo drained = Describe("work");
  EXPECT_EQ(drained.partitions(0).first_offset(), static_cast<uint64_t>(messages));
  EXPECT_EQ(drained.partitions(0).records(), 0u);
  // Disk space: the pass flushes every column family (so the write-ahead log files go) and
  // compacts what it deleted. What is left is RocksDB's own files (MANIFEST, OPTIONS, its LOG).
  uint64_t dir_after = DirectoryBytes(DataDir());
  EXPECT_TRUE(Eventually(
      [&] {
        dir_after = DirectoryBytes(DataDir());
        return dir_after < dir_full / 2;
      },
      30s))
      << "data dir " << dir_full << " -> " << dir_after << " bytes after the drain:\n"
      << DirectoryListing(DataDir());
  std::cout << "interest drain: " << messages << " messages of 100 B; topic stored bytes " << full
            << " -> " << after << "; data dir " << dir_full << " -> " << dir_after << " bytes\n";
}

TEST_F(BrokerdInterestTest, TheCapAnswersResourceExhaustedThenRecovers) {
  ASSERT_NO_FATAL_FAILURE(CreateInterestTopic("capped", 20000));
  const std::string payload(1000, 'c');
  int accepted = 0;
  grpc::Status refused;
  for (int i = 0; i < 100; ++i) {
    refused = Publish("capped", 1, payload);
    if (!refused.ok()) break;
    ++accepted;
  }
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("capped"), std::string::npos) << refused.error_message();
  EXPECT_NE(refused.error_message().find("20000"), std::string::npos) << refused.error_message();
  EXPECT_LE(StoredBytes(Describe("capped")), 20000u);
  ASSERT_GT(accepted, 10);

  ASSERT_NO_FATAL_FAILURE(Drain("capped", accepted));
  // Each refused publish asks for an early retention pass: no 10 s wait needed, but allow it.
  EXPECT_TRUE(Eventually([&] { return Publish("capped", 1, payload).ok(); }, 60s));
}

TEST_F(BrokerdInterestTest, BadRetentionSettingsAreInvalidArgumentAndCreateNothing) {
  auto create = [&](const v1::TopicConfig& config) {
    v1::CreateTopicRequest request;
    request.set_name("bad");
    *request.mutable_config() = config;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::TopicInfo info;
    return admin_->CreateTopic(&context, request, &info);
  };
  v1::TopicConfig unknown_policy;
  unknown_policy.set_retention(static_cast<v1::RetentionPolicy>(7));
  const grpc::Status unknown = create(unknown_policy);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(unknown.error_message().find("retention policy 7"), std::string::npos)
      << unknown.error_message();
  v1::TopicConfig capped_limits;
  capped_limits.set_max_bytes(100);
  EXPECT_EQ(create(capped_limits).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ListTopicsRequest list;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::ListTopicsResponse topics;
  ASSERT_TRUE(admin_->ListTopics(&context, list, &topics).ok());
  EXPECT_EQ(topics.topics_size(), 0);
}

}  // namespace
}  // namespace broker::integration
