// brokerd's log: one key=value line per significant event (start, stop, streams, admin changes,
// failed and denied calls), each with a level; payloads, keys, header values and tokens never
// appear, even at --log-level trace.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "broker/v1/admin.grpc.pb.h"
#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

constexpr char kSecretPayload[] = "SECRET-PAYLOAD-5150";
constexpr char kSecretKey[] = "SECRET-KEY-8086";
constexpr char kSecretHeader[] = "SECRET-HEADER-6502";

std::vector<std::string> LogLines(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" level=") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

bool HasLine(const std::vector<std::string>& lines, const std::vector<std::string>& parts) {
  for (const std::string& line : lines) {
    bool all = true;
    for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
    if (all) return true;
  }
  return false;
}

grpc::Status CreateGroup(const std::string& address, const std::string& topic,
                         const std::string& group, const std::string& token = "") {
  auto stub =
      v1::AdminService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::CreateGroupRequest request;
  request.set_topic(topic);
  request.set_group(group);
  v1::GroupInfo response;
  return stub->CreateGroup(&context, request, &response);
}

TEST_F(BrokerdTest, LogsOneLinePerEventAndNeverPayloads) {
  StartBrokerd({"--log-level", "trace"});
  {
    auto client = Connect();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(client
                      ->Publish("orders", {.key = kSecretKey,
                                           .payload = kSecretPayload,
                                           .headers = {{"x-secret", kSecretHeader}}})
                      .get()
                      .ok());
    }
    auto consumer = client->Subscribe("orders", "email", [](const client::ReceivedMessage&) {});
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    ASSERT_TRUE(StatsReach(**consumer, [](const auto& s) { return s.acked == 3; }));
    ASSERT_TRUE((*consumer)->Close().ok());
    ASSERT_TRUE(CreateGroup(brokerd_->address(), "orders", "billing").ok());
    // A caller's mistake: logged at debug, with the code.
    EXPECT_FALSE(client->Publish("bad topic!", {.payload = kSecretPayload}).get().ok());
  }
  ASSERT_EQ(brokerd_->Stop(), 0);
  const std::string output = brokerd_->Output();
  const auto lines = LogLines(output);

  EXPECT_TRUE(HasLine(lines, {"level=info", "event=started", "listen="})) << output;
  EXPECT_TRUE(HasLine(lines, {"level=debug", "event=stream_opened",
                              "method=/broker.v1.BrokerService/Subscribe", "peer="}))
      << output;
  EXPECT_TRUE(HasLine(
      lines, {"level=debug", "event=subscribe_joined", "topic=orders", "group=email", "member="}))
      << output;
  EXPECT_TRUE(HasLine(
      lines, {"level=debug", "event=stream_closed", "method=/broker.v1.BrokerService/Subscribe"}))
      << output;
  EXPECT_TRUE(HasLine(
      lines, {"level=info", "event=admin_change", "method=/broker.v1.AdminService/CreateGroup",
              "topic=orders", "group=billing", "code=ok"}))
      << output;
  EXPECT_TRUE(HasLine(
      lines, {"level=trace", "event=call", "method=/broker.v1.BrokerService/Publish", "code=ok"}))
      << output;
  EXPECT_TRUE(HasLine(lines, {"level=debug", "event=call_failed",
                              "method=/broker.v1.BrokerService/Publish", "code=invalid_argument"}))
      << output;
  EXPECT_TRUE(HasLine(lines, {"level=info", "event=stopping", "signal=15"})) << output;
  EXPECT_TRUE(HasLine(lines, {"level=info", "event=stopped"})) << output;
  for (const std::string& line : lines) {
    EXPECT_NE(line.find(" event="), std::string::npos) << "a line without an event: " << line;
  }
  for (const char* secret : {kSecretPayload, kSecretKey, kSecretHeader}) {
    EXPECT_EQ(output.find(secret), std::string::npos) << secret << " was logged:\n" << output;
  }
}

TEST_F(BrokerdTest, LogsDeniedCallsWithoutTheToken) {
  const std::string tokens = Path("tokens");
  std::ofstream(tokens) << "G00D-T0KEN-1234 publish,consume\n";
  StartBrokerd({"--tokens-file", tokens});  // default level info: denials are warnings
  EXPECT_EQ(CreateGroup(brokerd_->address(), "orders", "billing", "G00D-T0KEN-1234").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CreateGroup(brokerd_->address(), "orders", "billing", "BAD-T0KEN-5678").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_EQ(brokerd_->Stop(), 0);
  const std::string output = brokerd_->Output();
  const auto lines = LogLines(output);
  EXPECT_TRUE(HasLine(lines, {"level=warning", "event=call_denied", "code=permission_denied",
                              "method=/broker.v1.AdminService/CreateGroup"}))
      << output;
  EXPECT_TRUE(HasLine(lines, {"level=warning", "event=call_denied", "code=unauthenticated"}))
      << output;
  EXPECT_EQ(output.find("G00D-T0KEN-1234"), std::string::npos) << output;
  EXPECT_EQ(output.find("BAD-T0KEN-5678"), std::string::npos) << output;
}

}  // namespace
}  // namespace broker::integration
