// Bearer tokens (rights and topic prefixes) and TLS, with certificates made by openssl at test
// time. A refused call changes nothing.
#include <cstdlib>
#include <fstream>

#include "brokerd_fixture.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class SecurityTest : public BrokerdTest {
 protected:
  void StartWithTokens() {
    std::ofstream(Path("tokens")) << "# token rights prefixes\n"
                                     "pub-orders publish orders.\n"
                                     "consumer consume\n"
                                     "ops admin,publish,consume\n";
    StartBrokerd({"--tokens-file", Path("tokens")});
  }
  client::GrpcTransportOptions WithToken(const std::string& token) {
    auto options = Transport();
    options.token = token;
    return options;
  }
};

TEST_F(SecurityTest, MissingTokenIsUnauthenticated) {
  StartWithTokens();
  auto client = Connect(WithToken(""));
  EXPECT_EQ(client->Publish("orders.new", {.payload = "x"}).get().status().code(),
            StatusCode::kUnauthenticated);
  auto unknown = Connect(WithToken("guess"));
  EXPECT_EQ(unknown->Publish("orders.new", {.payload = "x"}).get().status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(SecurityTest, TokenWithoutTheRightIsDeniedAndNothingChanges) {
  StartWithTokens();
  auto consumer_only = Connect(WithToken("consumer"));
  auto refused = consumer_only->Publish("orders.new", {.payload = "x"}).get();
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();
  // Outside the token's prefixes.
  auto publisher = Connect(WithToken("pub-orders"));
  EXPECT_EQ(publisher->Publish("payments.new", {.payload = "x"}).get().status().code(),
            StatusCode::kPermissionDenied);
  // Nothing was created or appended: the first allowed publish lands at offset 0 of a new topic.
  auto first = publisher->Publish("orders.new", {.payload = "ok"}).get();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->offset.value(), 0u);
  auto payments = Connect(WithToken("ops"))->Publish("payments.new", {.payload = "ok"}).get();
  ASSERT_TRUE(payments.ok());
  EXPECT_EQ(payments->offset.value(), 0u) << "the denied publish appended nothing";
}

TEST_F(SecurityTest, ConsumingNeedsTheConsumeRight) {
  StartWithTokens();
  auto publisher = Connect(WithToken("pub-orders"));
  auto denied = publisher->Subscribe("orders.new", "g", [](const client::ReceivedMessage&) {});
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied) << denied.status().ToString();
}

// Requests travel on the requester's inbox stream; brokerd checks each one's topic and answers a
// refused one on that stream, and the requester gets the code at once, not a timeout.
TEST_F(SecurityTest, RequestsNeedThePublishRightOnTheirTopic) {
  StartWithTokens();
  auto ops = Connect(WithToken("ops"));
  auto responder = ops->Serve("payments.charge", "svc", [](const client::ReceivedMessage& m) {
    return client::Reply{.payload = m.record.payload, .headers = {}};
  });
  ASSERT_TRUE(responder.ok()) << responder.status().ToString();

  auto publisher = Connect(WithToken("pub-orders"));
  auto outside = publisher->Request("payments.charge", "x", 10s).get();
  EXPECT_EQ(outside.status().code(), StatusCode::kPermissionDenied) << outside.status().ToString();
  auto unserved = publisher->Request("orders.quote", "x", 10s).get();
  EXPECT_EQ(unserved.status().code(), StatusCode::kNoResponders) << unserved.status().ToString();
  auto consumer_only = Connect(WithToken("consumer"));
  auto no_inbox = consumer_only->Request("payments.charge", "x", 10s).get();
  EXPECT_EQ(no_inbox.status().code(), StatusCode::kPermissionDenied)
      << no_inbox.status().ToString();

  // The refused requests appended nothing: the responder has handled none, and the one allowed
  // request is the topic's first record.
  EXPECT_EQ((*responder)->stats().delivered, 0u);
  auto allowed = ops->Request("payments.charge", "ok", 10s).get();
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(allowed->payload, "ok");
  auto next = ops->Publish("payments.charge", {.payload = "after"}).get();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->offset.value(), 1u) << "only the allowed request was appended before";
}

TEST_F(SecurityTest, TlsWithACertificateMadeByOpenssl) {
  const std::string cert = Path("server.pem");
  const std::string key = Path("server.key");
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl is needed (scripts/install-deps.sh)";
  StartBrokerd({"--tls-cert", cert, "--tls-key", key});

  auto options = Transport();
  options.tls_ca_file = cert;  // self-signed: the certificate is its own CA
  auto secure = Connect(options);
  auto result = secure->Publish("orders", {.payload = "over tls"}).get();
  EXPECT_TRUE(result.ok()) << result.status().ToString();

  auto plaintext = Connect(Transport());
  EXPECT_EQ(plaintext->Publish("orders", {.payload = "x"}).get().status().code(),
            StatusCode::kUnavailable)
      << "a plaintext client cannot talk to a TLS brokerd";
}

}  // namespace
}  // namespace broker::integration
