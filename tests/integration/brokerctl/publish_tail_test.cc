// publish and tail, for debugging: payloads from arguments and stdin, binary-safe output, one
// group's state per record, and --follow picking up new records.
#include "brokerctl_fixture.h"

namespace broker::testing {
namespace {

TEST_F(BrokerctlTest, PublishFromStdinThenTailShowsIt) {
  CommandResult published =
      Ctl({"publish", "orders", "--key", "customer-99", "-H", "traceparent=00-aa-bb-01", "-H",
           "note=a=b", "--json"},
          {}, "line one\nline two");
  ASSERT_EQ(published.exit_code, 0) << Describe(published);
  Json position = Json::parse(published.out);
  EXPECT_EQ(position["topic"], "orders");
  EXPECT_EQ(position["duplicate"], false);
  const uint32_t partition = position["partition"];
  const uint64_t offset = position["offset"];
  EXPECT_EQ(offset, facts_.CountIn(partition, 0, ScenarioFacts::kMessages));

  CommandResult tail = Ctl({"tail", "orders", "-p", std::to_string(partition), "-n", "1", "--json",
                            "--group", "email"});
  ASSERT_EQ(tail.exit_code, 0) << Describe(tail);
  Json line = Json::parse(tail.out);  // exactly one line: one JSON document
  EXPECT_EQ(line["record"]["offset"], offset);
  EXPECT_EQ(line["record"]["key"], "customer-99");
  EXPECT_EQ(line["record"]["payload"], "line one\nline two");
  EXPECT_EQ(line["record"]["headers"][0]["name"], "traceparent");
  EXPECT_EQ(line["record"]["headers"][1]["value"], "a=b");
  EXPECT_EQ(line["group_state"]["group"], "email");

  // Binary payloads travel intact and are shown safely.
  CommandResult binary = Ctl({"publish", "orders", "--key", "customer-99"}, {},
                             std::string("\x00\xff\x1b[2J", 6));
  ASSERT_EQ(binary.exit_code, 0) << Describe(binary);
  EXPECT_NE(FindLine(binary.out, "published to orders partition \\d offset \\d+"), "") << binary.out;
  Json last = Json::parse(
      Ctl({"tail", "orders", "-p", std::to_string(partition), "-n", "1", "--json"}).out);
  EXPECT_EQ(last["record"]["payload_encoding"], "base64");
  EXPECT_EQ(last["record"]["payload"], "AP8bWzJK");
  CommandResult text = Ctl({"tail", "orders", "-p", std::to_string(partition), "-n", "2"});
  EXPECT_NE(FindLine(text.out, "\\d:\\d+  \\S+Z  key=customer-99  0x00ff1b5b324a"), "") << text.out;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos);  // no escape sequence reaches the terminal
}

TEST_F(BrokerctlTest, TailShowsTheLatestRecordsOfAllPartitionsWithGroupState) {
  CommandResult r = Ctl({"tail", "orders", "-n", "4", "--group", "analytics"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  // The 4 latest are the backlog, i = 12..15, oldest first.
  for (int i = 12; i < 16; ++i) {
    const auto& at = facts_.placed[i];
    EXPECT_NE(FindLine(r.out, std::to_string(at.partition) + ":" + std::to_string(at.offset) +
                                  "  \\S+  key=customer-" + std::to_string(i) + "  .*\\[analytics: .*\\]"),
              "")
        << i << "\n" << r.out;
  }
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4);
}

TEST_F(BrokerctlTest, TailFollowPrintsNewRecords) {
  BackgroundBrokerctl follow({"--addr", addr_, "tail", "orders", "--follow", "-n", "1", "--json",
                              "--poll-interval", "20ms"});
  // The first line (the latest record) means it has read the current ends and is following.
  std::string out = follow.WaitForLines(1, std::chrono::seconds(20));
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out << follow.Errors();

  CommandResult published = Ctl({"publish", "orders", "fresh order", "--key", "customer-100"});
  ASSERT_EQ(published.exit_code, 0) << Describe(published);
  out = follow.WaitForLines(2, std::chrono::seconds(20));
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out << follow.Errors();
  Json second = Json::parse(out.substr(out.find('\n') + 1));
  EXPECT_EQ(second["record"]["payload"], "fresh order");
  EXPECT_EQ(second["record"]["key"], "customer-100");
  follow.Stop();
}

TEST_F(BrokerctlTest, TailFollowRidesOutABrokerdRestart) {
  BackgroundBrokerctl follow({"--addr", addr_, "tail", "orders", "--follow", "-n", "1", "--json",
                              "--poll-interval", "20ms"});
  std::string out = follow.WaitForLines(1, std::chrono::seconds(20));
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out << follow.Errors();

  // Restart brokerd on the same address while tail keeps polling.
  ASSERT_NO_FATAL_FAILURE(RestartBrokerdOnTheSameAddress());

  CommandResult published = Ctl({"publish", "orders", "after restart", "--key", "customer-100"});
  ASSERT_EQ(published.exit_code, 0) << Describe(published);
  out = follow.WaitForLines(2, std::chrono::seconds(30));
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out << follow.Errors();
  Json second = Json::parse(out.substr(out.find('\n') + 1));
  EXPECT_EQ(second["record"]["payload"], "after restart");
  follow.Stop();
}

}  // namespace
}  // namespace broker::testing
