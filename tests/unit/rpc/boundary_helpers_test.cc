// The pure helpers of brokerd's boundary: host:port parsing (rpc/host_port.h) and the reply
// rule's bookkeeping (rpc/pending_requests.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/v1/common.pb.h"
#include "rpc/host_port.h"
#include "rpc/pending_requests.h"

namespace broker::rpc {
namespace {

TEST(HostPortTest, ParsesHostAndPortAndPrintsThemBack) {
  std::string error;
  auto v4 = net::ParseHostPort("127.0.0.1:7070", "--listen", std::nullopt, &error);
  ASSERT_TRUE(v4) << error;
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7070);
  EXPECT_EQ(v4->ToString(), "127.0.0.1:7070");
  auto v6 = net::ParseHostPort("[::1]:0", "--listen", std::nullopt, &error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:0");
  auto defaulted = net::ParseHostPort("broker", "--addr", 7070, &error);
  ASSERT_TRUE(defaulted) << error;
  EXPECT_EQ(defaulted->port, 7070);
}

TEST(HostPortTest, RefusesWhatIsNoHostPortWithOneLineNamingTheFlag) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"localhost", "has no port"}, {":7070", "has no host"}, {"::1:7070", "without brackets"},
      {"[::1:7070", "no ']'"},      {"[::1]x", "no :port"},   {"host:", "bad port"},
      {"host:65536", "bad port"},   {"host:-1", "bad port"},  {"host:12ab", "bad port"},
  };
  for (const auto& [text, why] : cases) {
    std::string error;
    EXPECT_FALSE(net::ParseHostPort(text, "--listen", std::nullopt, &error)) << text;
    EXPECT_TRUE(error.starts_with("--listen '" + text + "'")) << error;
    EXPECT_NE(error.find(why), std::string::npos) << text << ": " << error;
  }
}

std::vector<v1::Header> Headers(const std::string& correlation_id) {
  v1::Header h;
  h.set_name("correlation_id");
  h.set_value(correlation_id);
  return {h};
}

TEST(PendingRequestsTest, AcceptsOnlyRepliesToRequestsOfThatInbox) {
  PendingRequests pending;
  pending.Open("_inbox.a");
  pending.Open("_inbox.b");
  pending.Add("_inbox.a", "c1", "quotes");
  auto ok = pending.Authorize("_inbox.a", Headers("c1"), std::nullopt);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "quotes");
  EXPECT_TRUE(pending.Authorize("_inbox.a", Headers("c1"), std::string_view("quotes")).ok());
  EXPECT_EQ(pending.Authorize("_inbox.a", Headers("c1"), std::string_view("other")).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(pending.Authorize("_inbox.b", Headers("c1"), std::nullopt).status().code(),
            StatusCode::kPermissionDenied)
      << "another inbox's request";
  EXPECT_EQ(pending.Authorize("_inbox.a", std::vector<v1::Header>{}, std::nullopt).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(pending.Authorize("_inbox.zz", Headers("c1"), std::nullopt).status().code(),
            StatusCode::kNotFound);
  pending.Close("_inbox.a");
  EXPECT_EQ(pending.Authorize("_inbox.a", Headers("c1"), std::nullopt).status().code(),
            StatusCode::kNotFound);
  pending.Add("_inbox.a", "c2", "quotes");  // after Close: ignored
  EXPECT_EQ(pending.TopicOf("_inbox.a", "c2").status().code(), StatusCode::kNotFound);
}

TEST(PendingRequestsTest, RemembersTheLatestRequestsOfAnInbox) {
  PendingRequests pending;
  pending.Open("_inbox.a");
  for (size_t i = 0; i <= PendingRequests::kRememberedPerInbox; ++i) {
    pending.Add("_inbox.a", "c" + std::to_string(i), "quotes");
  }
  EXPECT_EQ(pending.TopicOf("_inbox.a", "c0").status().code(), StatusCode::kPermissionDenied)
      << "the oldest was forgotten";
  EXPECT_TRUE(pending.TopicOf("_inbox.a", "c1").ok());
  EXPECT_TRUE(
      pending.TopicOf("_inbox.a", "c" + std::to_string(PendingRequests::kRememberedPerInbox)).ok());
}

}  // namespace
}  // namespace broker::rpc
