// AdminService/Backup: a RocksDB checkpoint of a serving brokerd opens as a data directory with
// the topics, offsets and consumer groups of the moment it was taken; bad paths are refused.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <mutex>
#include <string>

#include "broker/v1/admin.grpc.pb.h"
#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class BackupTest : public BrokerdTest {
 protected:
  grpc::Status Backup(const std::string& dir, v1::BackupResponse* response) {
    auto stub = v1::AdminService::NewStub(
        grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::BackupRequest request;
    request.set_dir(dir);
    return stub->Backup(&context, request, response);
  }
};

TEST_F(BackupTest, ACheckpointOfAServingBrokerdRestoresTopicsOffsetsAndGroups) {
  StartBrokerd();
  auto client = Connect();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client->Publish("orders", {.payload = "before-" + std::to_string(i)}).get().ok());
  }
  // Group "email" consumes (and acks) everything before the backup.
  auto consumer = client->Subscribe("orders", "email", [](const client::ReceivedMessage&) {});
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(StatsReach(**consumer, [](const auto& s) { return s.acked == 10; }));
  ASSERT_TRUE((*consumer)->Close().ok());

  v1::BackupResponse response;
  const grpc::Status status = Backup(Path("backup-1"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.dir(), Path("backup-1"));
  EXPECT_GT(response.bytes(), 0u);
  // Published after the backup: not in it.
  ASSERT_TRUE(client->Publish("orders", {.payload = "after"}).get().ok());
  client.reset();
  ASSERT_EQ(brokerd_->Stop(), 0);

  // Restore = run brokerd on the checkpoint directory.
  std::string error;
  brokerd_ = testing::BrokerdProcess::Start(Path("backup-1"), {}, &error);
  ASSERT_TRUE(brokerd_.has_value()) << error;
  client = Connect();
  auto next = client->Publish("orders", {.payload = "after restore"}).get();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->offset.value(), 10u) << "the backup holds offsets 0..9";
  // The group resumes where it was: only the new message is delivered to it.
  std::atomic<int> redelivered{0};
  std::string last;
  std::mutex mu;
  auto again = client->Subscribe("orders", "email", [&](const client::ReceivedMessage& m) {
    std::lock_guard lock(mu);
    last = m.record.payload;
    ++redelivered;
  });
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(StatsReach(**again, [](const auto& s) { return s.acked >= 1; }));
  ASSERT_TRUE((*again)->Close().ok());
  // Acks of the last few milliseconds before a backup may be redelivered (at-least-once); here
  // the consumer had closed, so its acks were persisted.
  EXPECT_EQ(redelivered.load(), 1);
  std::lock_guard lock(mu);
  EXPECT_EQ(last, "after restore");
}

TEST_F(BackupTest, RefusesRelativeExistingAndOrphanPaths) {
  StartBrokerd();
  v1::BackupResponse response;
  EXPECT_EQ(Backup("relative/dir", &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Backup(Path("no-such-parent/b"), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Backup(Path("b"), &response).ok());
  EXPECT_EQ(Backup(Path("b"), &response).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Backup(DataDir(), &response).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace broker::integration
