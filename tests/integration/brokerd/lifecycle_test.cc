// brokerd as a process: clean stop on SIGTERM with data kept, one daemon per data directory,
// health checking for stock gRPC tools.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

TEST_F(BrokerdTest, SigtermDrainsStopsCleanlyAndKeepsTheData) {
  StartBrokerd();
  {
    auto client = Connect();
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(client->Publish("orders", {.payload = "m" + std::to_string(i)}).get().ok());
    }
  }
  const std::string address = brokerd_->address();
  EXPECT_EQ(brokerd_->Stop(), 0) << brokerd_->Output();
  EXPECT_NE(brokerd_->Output().find("event=stopped"), std::string::npos) << brokerd_->Output();

  StartBrokerd();
  auto client = Connect();
  auto next = client->Publish("orders", {.payload = "after restart"}).get();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->offset.value(), 10u) << "offsets continue after a restart";
}

TEST_F(BrokerdTest, SecondBrokerdOnTheSameDataDirFailsWithAClearMessage) {
  StartBrokerd();
  std::string error;
  auto second = testing::BrokerdProcess::Start(DataDir(), {}, &error, 20s);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(error.find("in use by another broker process"), std::string::npos) << error;
  // The first one is unharmed.
  auto client = Connect();
  EXPECT_TRUE(client->Publish("orders", {.payload = "still here"}).get().ok());
}

TEST_F(BrokerdTest, AnswersTheStandardGrpcHealthCheck) {
  StartBrokerd();
  auto channel = grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials());
  grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer> stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  grpc::ByteBuffer request;  // HealthCheckRequest{service: ""} encodes to zero bytes
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&done](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "HealthCheckResponse{status: SERVING}";
}

}  // namespace
}  // namespace broker::integration
