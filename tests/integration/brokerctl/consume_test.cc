// consume: a consumer group member from the command line, acking by default or playing a failing
// consumer (--reject, --fail-with, --nack), bounded by -n or by --wait, and --follow riding out a
// brokerd restart.
#include <sstream>

#include "brokerctl_fixture.h"

namespace broker::testing {
namespace {

// One JSON document per line.
std::vector<Json> JsonLines(const std::string& text) {
  std::vector<Json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    Json parsed = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
    lines.push_back(parsed);
  }
  return lines;
}

TEST_F(BrokerctlTest, ConsumeAcksInANewGroupFromTheEarliest) {
  CommandResult r = Ctl({"consume", "orders", "-g", "audit", "-n", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<Json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (const Json& line : lines) {
    EXPECT_EQ(line["topic"], "orders");
    EXPECT_EQ(line["group"], "audit");
    EXPECT_EQ(line["attempt"], 1);
    EXPECT_EQ(line["settle"], "ack");
    EXPECT_EQ(line["settled"], true);
    EXPECT_TRUE(line["record"]["key"].get<std::string>().starts_with("customer-")) << line;
  }
  // Acked, not just shown: the group (created by the consume) has 16 - 3 left and nothing held.
  Json audit = Group("audit");
  ASSERT_FALSE(audit.is_null());
  EXPECT_EQ(audit["total"]["unsettled"], ScenarioFacts::kMessages - 3) << audit;
  EXPECT_EQ(audit["total"]["in_flight"], 0) << audit;
  EXPECT_EQ(audit["members"].size(), 0u) << audit;  // it left the group on exit
}

TEST_F(BrokerctlTest, ConsumeWithoutCountStopsWhenNothingArrivesAndSaysSo) {
  // email's backlog is the 4 newest orders.
  CommandResult r = Ctl({"consume", "orders", "-g", "email", "--wait", "1s"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  for (int i = ScenarioFacts::kFirstBacklog; i < ScenarioFacts::kMessages; ++i) {
    const auto& at = facts_.placed[i];
    EXPECT_NE(FindLine(r.out, std::to_string(at.partition) + ":" + std::to_string(at.offset) +
                                  "  \\S+Z  key=customer-" + std::to_string(i) +
                                  "  .*  \\[attempt 1, acked\\]"),
              "")
        << i << "\n" << r.out;
  }
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;
  EXPECT_EQ(Group("email")["total"]["unsettled"], 0);

  CommandResult again = Ctl({"consume", "orders", "-g", "email", "--wait", "200ms"});
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_EQ(again.out, "no messages for group 'email' of 'orders' within 200ms\n");
}

TEST_F(BrokerctlTest, ConsumeRejectDeadLettersAtOnceWithTheReason) {
  CommandResult r = Ctl({"consume", "orders", "-g", "audit", "-n", "2", "--reject", "bad payload"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  EXPECT_NE(FindLine(r.out, "\\d:\\d+  \\S+Z  key=customer-\\d+  .*  \\[attempt 1, rejected: bad payload\\]"),
            "")
      << r.out;

  Json dlq = Dlq("audit");
  ASSERT_FALSE(dlq.is_null());
  EXPECT_EQ(dlq["depth"], 2);
  Json peek = CtlJson({"dlq", "peek", "orders", "audit"});
  ASSERT_EQ(peek["dead_letters"].size(), 2u) << peek;
  EXPECT_EQ(peek["dead_letters"][0]["reason"], "rejected");
  EXPECT_EQ(peek["dead_letters"][0]["last_error"], "bad payload");
  EXPECT_EQ(peek["dead_letters"][0]["attempts"], 1);
}

TEST_F(BrokerctlTest, ConsumeFailWithNacksAndKeepsTheErrorForTheDeadLetter) {
  CommandResult r =
      Ctl({"consume", "orders", "-g", "email", "-n", "1", "--fail-with", "smtp down", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<Json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(lines[0]["settle"], "nack");
  EXPECT_EQ(lines[0]["error"], "smtp down");
  EXPECT_EQ(lines[0]["settled"], true);

  // Not settled: the message waits for its retry (email's backoff starts at 1 s, so it may be due
  // again by now), with the attempt counted and the error kept.
  const uint32_t partition = lines[0]["record"]["partition"];
  const uint64_t offset = lines[0]["record"]["offset"];
  Json shown = CtlJson({"msg", "show", "orders", std::to_string(partition), std::to_string(offset)});
  Json email = Find(shown["groups"], "group", "email");
  ASSERT_FALSE(email.is_null()) << shown;
  EXPECT_EQ(email["attempts"], 1) << email;
  EXPECT_EQ(email["last_error"], "smtp down") << email;
  EXPECT_EQ(Group("email")["total"]["unsettled"], 4);
}

TEST_F(BrokerctlTest, ConsumeRefusesBadUsageAndUnknownTopics) {
  CommandResult both = Ctl({"consume", "orders", "-g", "email", "--nack", "--reject", "x"});
  EXPECT_EQ(both.exit_code, 2) << Describe(both);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;

  CommandResult no_group = Ctl({"consume", "orders"});
  EXPECT_EQ(no_group.exit_code, 2) << Describe(no_group);
  EXPECT_NE(no_group.err.find("--group"), std::string::npos) << no_group.err;

  CommandResult empty_reason = Ctl({"consume", "orders", "-g", "email", "--reject", ""});
  EXPECT_EQ(empty_reason.exit_code, 2) << Describe(empty_reason);

  // A typo in the topic is an error, not a new topic and group.
  CommandResult typo = Ctl({"consume", "ordrs", "-g", "email", "--json"});
  EXPECT_EQ(typo.exit_code, 1) << Describe(typo);
  EXPECT_EQ(typo.out, "");
  Json error = Json::parse(typo.err);
  EXPECT_EQ(error["error"]["code"], "not_found") << typo.err;
  Json topics = CtlJson({"topics", "list"});
  EXPECT_TRUE(Find(topics["topics"], "name", "ordrs").is_null()) << topics;
  EXPECT_EQ(Group("email")["total"]["backlog"], 4);  // nothing consumed
}

TEST_F(BrokerctlTest, ConsumeFollowRejoinsAcrossABrokerdRestart) {
  BackgroundBrokerctl follow({"--addr", addr_, "consume", "orders", "-g", "email", "--follow", "--json"});
  std::string out = follow.WaitForLines(4, std::chrono::seconds(30));  // email's backlog
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out << follow.Errors();

  // Restart brokerd on the same address; the consume keeps running and rejoins.
  ASSERT_NO_FATAL_FAILURE(RestartBrokerdOnTheSameAddress());

  CommandResult published = Ctl({"publish", "orders", "after restart", "--key", "customer-100"});
  ASSERT_EQ(published.exit_code, 0) << Describe(published);
  out = follow.WaitForLines(5, std::chrono::seconds(30));
  std::vector<Json> lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 5u) << out << follow.Errors();
  EXPECT_EQ(lines[4]["record"]["payload"], "after restart");
  EXPECT_EQ(lines[4]["settled"], true) << lines[4];

  // SIGTERM: it finishes, leaves the group and exits 0.
  EXPECT_EQ(follow.Stop(), 0) << follow.Errors();
  EXPECT_EQ(Group("email")["total"]["unsettled"], 0);
}

}  // namespace
}  // namespace broker::testing
