// A token limited to topic prefixes acts only on its topics, on every call: list calls show it
// only its topics and their groups, and calls on the whole broker (stats, backup) are refused.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "broker/v1/admin.grpc.pb.h"
#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class ScopeTest : public BrokerdTest {
 protected:
  void SetUp() override {
    BrokerdTest::SetUp();
    std::ofstream(Path("tokens")) << "orders-admin admin,publish,consume orders.\n"
                                     "root admin,publish,consume\n";
    StartBrokerd({"--tokens-file", Path("tokens")});
    stub_ = v1::AdminService::NewStub(
        grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials()));
    for (const std::string topic : {"orders.eu", "orders.us", "payments.eu"}) {
      v1::CreateTopicRequest create;
      create.set_name(topic);
      v1::TopicInfo created;
      ASSERT_TRUE(stub_->CreateTopic(As("root").get(), create, &created).ok()) << topic;
      auto context = As("root");
      v1::CreateGroupRequest request;
      request.set_topic(topic);
      request.set_group("audit");
      v1::GroupInfo info;
      ASSERT_TRUE(stub_->CreateGroup(context.get(), request, &info).ok()) << topic;
    }
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + 20s);
    context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  std::set<std::string> Topics(const std::string& token) {
    v1::ListTopicsResponse response;
    grpc::Status status = stub_->ListTopics(As(token).get(), {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::set<std::string> names;
    for (const auto& t : response.topics()) names.insert(t.name());
    return names;
  }

  std::set<std::string> GroupTopics(const std::string& token, const std::string& topic,
                                    grpc::Status* status) {
    v1::ListGroupsRequest request;
    request.set_topic(topic);
    v1::ListGroupsResponse response;
    *status = stub_->ListGroups(As(token).get(), request, &response);
    std::set<std::string> topics;
    for (const auto& g : response.groups()) topics.insert(g.topic());
    return topics;
  }

  std::unique_ptr<v1::AdminService::Stub> stub_;
};

TEST_F(ScopeTest, ListCallsShowAPrefixTokenOnlyItsTopics) {
  EXPECT_EQ(Topics("orders-admin"), (std::set<std::string>{"orders.eu", "orders.us"}));
  EXPECT_EQ(Topics("root"), (std::set<std::string>{"orders.eu", "orders.us", "payments.eu"}));

  grpc::Status status;
  EXPECT_EQ(GroupTopics("orders-admin", "", &status),
            (std::set<std::string>{"orders.eu", "orders.us"}));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(GroupTopics("orders-admin", "orders.eu", &status),
            (std::set<std::string>{"orders.eu"}));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(GroupTopics("orders-admin", "payments.eu", &status).empty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_EQ(GroupTopics("root", "", &status).size(), 3u);
}

TEST_F(ScopeTest, BrokerWideCallsAreRefusedToAPrefixToken) {
  v1::Stats stats;
  grpc::Status denied = stub_->GetStats(As("orders-admin").get(), {}, &stats);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(denied.error_message().find("acts on the whole broker"), std::string::npos)
      << denied.error_message();
  EXPECT_EQ(stats.data_dir(), "") << "nothing about the broker leaks";

  v1::BackupRequest backup;
  backup.set_dir(Path("copy"));
  v1::BackupResponse copied;
  denied = stub_->Backup(As("orders-admin").get(), backup, &copied);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_FALSE(std::filesystem::exists(Path("copy"))) << "a refused backup writes nothing";

  // The same calls with an unlimited admin token.
  EXPECT_TRUE(stub_->GetStats(As("root").get(), {}, &stats).ok());
  EXPECT_EQ(stats.data_dir(), DataDir());
  EXPECT_TRUE(stub_->Backup(As("root").get(), backup, &copied).ok());
}

}  // namespace
}  // namespace broker::integration
