// What people see when something is wrong: brokerd down, a bad token, an unknown name, a bad
// flag, TLS mismatches. Each has an actionable message and a reliable exit code.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "brokerctl_fixture.h"

namespace broker::testing {
namespace {

// A loopback port nobody listens on: bound (so nobody else gets it) but not listening.
class DeadPort {
 public:
  DeadPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t length = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
  }
  ~DeadPort() { close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(BrokerctlDownTest, SaysBrokerdCannotBeReachedAndExits1) {
  DeadPort port;
  ASSERT_NE(port.address(), "127.0.0.1:0");
  CommandResult r = RunBrokerctl({"--addr", port.address(), "groups", "list"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "brokerctl: cannot reach brokerd at " + port.address() +
                       ": connection refused; is it running?\n");

  // The address also comes from BROKER_ADDR; --json errors are JSON on stderr.
  CommandResult j = RunBrokerctl({"dlq", "list", "--json"}, {{"BROKER_ADDR", port.address()}});
  EXPECT_EQ(j.exit_code, 1) << Describe(j);
  EXPECT_EQ(j.out, "");
  Json error = Json::parse(j.err, nullptr, false);
  ASSERT_FALSE(error.is_discarded()) << j.err;
  EXPECT_EQ(error["error"]["code"], "unavailable");
  EXPECT_EQ(error["error"]["message"], "cannot reach brokerd at " + port.address() +
                                           ": connection refused; is it running?");

  CommandResult health = RunBrokerctl({"--addr", port.address(), "health"});
  EXPECT_EQ(health.exit_code, 1) << Describe(health);
}

TEST_F(BrokerctlTest, UnknownNamesFailWithTheNameAndExit1) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::vector<Case> cases = {
      {{"groups", "describe", "nope", "--topic", "orders"},
       "brokerctl: group 'nope' does not exist on topic 'orders' (not_found)\n"},
      {{"groups", "describe", "nope"},
       "brokerctl: group 'nope' does not exist on any topic ('brokerctl groups list' shows "
       "them)\n"},
      {{"topics", "describe", "nope"}, "brokerctl: topic 'nope' does not exist (not_found)\n"},
      {{"dlq", "peek", "nope", "email"}, "brokerctl: topic 'nope' does not exist (not_found)\n"},
      {{"dlq", "redrive", "orders", "nope", "--dry-run"},
       "brokerctl: group 'nope' does not exist on topic 'orders' (not_found)\n"},
      {{"tail", "nope"}, "brokerctl: topic 'nope' does not exist (not_found)\n"},
  };
  for (const Case& c : cases) {
    CommandResult r = Ctl(c.args);
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, c.err);
  }
  CommandResult offset = Ctl({"msg", "show", "orders", "0", "999", "--json"});
  EXPECT_EQ(offset.exit_code, 1);
  Json error = Json::parse(offset.err, nullptr, false);
  EXPECT_EQ(error["error"]["code"], "not_found") << offset.err;
  EXPECT_NE(error["error"]["message"].get<std::string>().find("offset 999"), std::string::npos);
}

TEST_F(BrokerctlTest, TokensAreRequiredAndChecked) {
  const std::string tokens = WriteFile("tokens", "admin-secret admin,publish,consume\nreader consume\n");
  StartBrokerd({"--tokens-file", tokens});

  CommandResult none = Ctl({"groups", "list"});
  EXPECT_EQ(none.exit_code, 1) << Describe(none);
  EXPECT_EQ(none.err, "brokerctl: brokerd at " + addr_ +
                          " requires a token (no token: send 'authorization: Bearer <token>'); "
                          "pass --token, --token-file or set BROKER_TOKEN\n");

  CommandResult wrong = Ctl({"--token", "not-the-secret", "groups", "list"});
  EXPECT_EQ(wrong.exit_code, 1) << Describe(wrong);
  EXPECT_EQ(wrong.err, "brokerctl: brokerd at " + addr_ +
                           " rejected the token (unknown token); check --token, --token-file or "
                           "BROKER_TOKEN\n");

  CommandResult reader = Ctl({"--token", "reader", "dlq", "list"});
  EXPECT_EQ(reader.exit_code, 1) << Describe(reader);
  EXPECT_EQ(reader.err,
            "brokerctl: permission denied: this token does not grant 'admin'; use a token with the "
            "'admin' right\n");

  const std::string token_file = WriteFile("admin.token", "admin-secret\n");
  CommandResult from_file = Ctl({"--token-file", token_file, "groups", "list"});
  EXPECT_EQ(from_file.exit_code, 0) << Describe(from_file);
  CommandResult from_env = Ctl({"groups", "list"}, {{"BROKER_TOKEN", "admin-secret"}});
  EXPECT_EQ(from_env.exit_code, 0) << Describe(from_env);
  // An explicit --token-file beats BROKER_TOKEN.
  CommandResult file_wins =
      Ctl({"--token-file", token_file, "stats"}, {{"BROKER_TOKEN", "not-the-secret"}});
  EXPECT_EQ(file_wins.exit_code, 0) << Describe(file_wins);
  // Health checks need no token.
  EXPECT_EQ(Ctl({"health"}).exit_code, 0);
}

TEST_F(BrokerctlTest, UsageErrorsExit2) {
  EXPECT_EQ(Ctl({}).exit_code, 2);
  EXPECT_EQ(Ctl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Ctl({"dlq", "purge", "orders"}).exit_code, 2);  // GROUP missing
  EXPECT_EQ(Ctl({"dlq", "redrive", "orders", "email", "--older-than", "soon"}).exit_code, 2);
  EXPECT_EQ(Ctl({"dlq", "redrive", "orders", "email", "--rate", "fast"}).exit_code, 2);
  EXPECT_EQ(Ctl({"--timeout", "0.5"}).exit_code, 2);
  EXPECT_EQ(Ctl({"publish", "orders", "--header", "no-equals-sign", "x"}).exit_code, 2);
  EXPECT_EQ(Ctl({"groups", "reset", "email"}).exit_code, 2);  // --to missing
  EXPECT_EQ(Ctl({"groups", "reset", "email", "--to", "offset"}).exit_code, 2);  // --offset missing
  EXPECT_EQ(Ctl({"groups", "reset", "email", "--to", "time", "--time", "yesterday"}).exit_code, 2);

  CommandResult help = Ctl({"dlq", "redrive", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--error-contains"), std::string::npos) << help.out;
}

TEST(BrokerctlAddrTest, AddressWithoutAPortIsAUsageErrorNotPort443) {
  CommandResult flag = RunBrokerctl({"--addr", "localhost", "health"});
  EXPECT_EQ(flag.exit_code, 2) << Describe(flag);
  EXPECT_NE(flag.err.find("--addr 'localhost' has no port; write HOST:PORT"), std::string::npos)
      << Describe(flag);
  CommandResult env = RunBrokerctl({"health"}, {{"BROKER_ADDR", "localhost"}});
  EXPECT_EQ(env.exit_code, 2) << Describe(env);
  EXPECT_NE(env.err.find("has no port"), std::string::npos) << Describe(env);
}

TEST_F(BrokerctlTest, TlsFlagsConnectAndMismatchesAreExplained) {
  const std::string cert = (dir_ / "cert.pem").string();
  const std::string key = (dir_ / "key.pem").string();
  CommandResult openssl = RunProgram(
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
       "-days", "1", "-subj", "/CN=localhost", "-addext",
       "subjectAltName=IP:127.0.0.1,DNS:localhost"},
      {}, "", std::chrono::seconds(60));
  if (openssl.exit_code != 0) GTEST_SKIP() << "openssl cannot make a certificate: " << openssl.err;
  StartBrokerd({"--tls-cert", cert, "--tls-key", key});

  Json stats = CtlJson({"--tls-ca", cert, "stats"});
  EXPECT_EQ(stats["groups"], 2);

  CommandResult plain = Ctl({"stats"});
  EXPECT_EQ(plain.exit_code, 1) << Describe(plain);
  EXPECT_EQ(plain.err, "brokerctl: brokerd at " + addr_ +
                           " closed the connection while it was being set up; if it uses TLS, "
                           "add --tls-ca (or --tls)\n");

  CommandResult unverified = Ctl({"--tls", "stats"});  // system roots do not know this cert
  EXPECT_EQ(unverified.exit_code, 1) << Describe(unverified);
  EXPECT_NE(unverified.err.find("cannot verify the TLS certificate"), std::string::npos)
      << unverified.err;
}

}  // namespace
}  // namespace broker::testing
