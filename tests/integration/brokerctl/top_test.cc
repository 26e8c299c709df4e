// brokerctl top: the live view, through --once (JSON and table), as a stream of JSON frames while
// messages are published and settled, and in a real pseudo-terminal (colour, screen clearing,
// NO_COLOR, Ctrl-C).
#include <sstream>

#include "brokerctl_fixture.h"

namespace broker::testing {
namespace {

constexpr const char* kRedFive = "\x1b[31m5\x1b[0m";  // email's DLQ depth, in red

// Sums of `published` and `settled` over every JSON frame in `out` for one group.
struct Totals {
  uint64_t published = 0;
  uint64_t settled = 0;
  Json last;  // the group's row in the latest frame
};

Totals SumFrames(const std::string& out, const std::string& group) {
  Totals totals;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const Json frame = Json::parse(line, nullptr, false);
    if (frame.is_discarded() || !frame.contains("groups")) continue;
    const Json row = Find(frame["groups"], "group", group);
    if (row.is_null()) continue;
    totals.published += row["published"].get<uint64_t>();
    totals.settled += row["settled"].get<uint64_t>();
    totals.last = row;
  }
  return totals;
}

TEST_F(BrokerctlTest, TopOnceJsonShowsEachGroupsLagAndAStuckHeadAsRising) {
  Json frame = CtlJson({"top", "--once", "--interval", "200ms"});
  ASSERT_TRUE(frame.contains("groups")) << frame.dump(2);
  EXPECT_GE(frame["interval_s"].get<double>(), 0.2);
  ASSERT_EQ(frame["groups"].size(), 2u) << frame.dump(2);

  const Json email = Find(frame["groups"], "group", "email");
  ASSERT_FALSE(email.is_null());
  EXPECT_EQ(email["topic"], "orders");
  EXPECT_EQ(email["members"], 0);
  EXPECT_EQ(email["published"], 0);
  EXPECT_EQ(email["settled"], 0);
  EXPECT_EQ(email["publish_per_s"], 0.0);
  EXPECT_EQ(email["backlog"], 4);
  EXPECT_EQ(email["unsettled"], 4);
  EXPECT_EQ(email["dlq_depth"], 5);
  // Nobody consumes: the oldest unsettled message ages as fast as time passes.
  EXPECT_EQ(email["oldest_trend"], "rising");

  const Json analytics = Find(frame["groups"], "group", "analytics");
  ASSERT_FALSE(analytics.is_null());
  EXPECT_EQ(analytics["delayed"], 1);
  EXPECT_EQ(analytics["dlq_depth"], 1);
}

TEST_F(BrokerctlTest, TopOnceTableHasOneLinePerGroupAndNoColourWhenPiped) {
  CommandResult r = Ctl({"top", "--once", "--interval", "200ms"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "TOPIC +GROUP +MEMBERS +PUBLISH +SETTLE +BACKLOG +IN_FLIGHT +DELAYED "
                            "+OLDEST +DLQ"),
            "")
      << r.out;
  EXPECT_NE(FindLine(r.out, "orders +email +0 +0/s +0/s +4 +0 +0 +[0-9a-z]+ +↑ +5"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "orders +analytics +0 +0/s +0/s +4 +0 +1 +[0-9a-z]+ +↑ +1"), "")
      << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "colour or screen control on a pipe";
}

TEST_F(BrokerctlTest, TopOnlyShowsTheTopicAskedFor) {
  ASSERT_EQ(Ctl({"topics", "create", "payments"}).exit_code, 0);
  ASSERT_EQ(Ctl({"groups", "create", "ledger", "--topic", "payments"}).exit_code, 0);
  Json frame = CtlJson({"top", "--once", "--interval", "100ms", "--topic", "payments"});
  ASSERT_EQ(frame["groups"].size(), 1u) << frame.dump(2);
  EXPECT_EQ(frame["groups"][0]["group"], "ledger");
  EXPECT_EQ(frame["groups"][0]["oldest_trend"], "none");  // nothing unsettled
}

TEST_F(BrokerctlTest, TopCountsWhatIsPublishedAndSettledWhileItRuns) {
  BackgroundBrokerctl top({"--addr", addr_, "--json", "top", "--interval", "100ms"});
  // The first frame means top has its first sample: everything after it is counted.
  std::string out = top.WaitForLines(1, std::chrono::seconds(20));
  ASSERT_GE(std::count(out.begin(), out.end(), '\n'), 1) << out << top.Errors();

  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Ctl({"publish", "orders", "order " + std::to_string(i)}).exit_code, 0);
  }
  CommandResult consumed = Ctl({"consume", "orders", "-g", "email", "-n", "2"});
  ASSERT_EQ(consumed.exit_code, 0) << Describe(consumed);

  // Frames keep coming; wait until they account for the 3 publishes and the 2 acks.
  Totals totals;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (size_t lines = 2; std::chrono::steady_clock::now() < deadline; ++lines) {
    totals = SumFrames(top.WaitForLines(lines, std::chrono::seconds(5)), "email");
    if (totals.published >= 3 && totals.settled >= 2) break;
  }
  EXPECT_EQ(totals.published, 3u) << top.WaitForLines(0, {});
  EXPECT_EQ(totals.settled, 2u) << top.WaitForLines(0, {});
  EXPECT_EQ(totals.last["backlog"], 4 + 3 - 2);
  // analytics consumed nothing: it sees the publishes and settles none.
  const Totals analytics = SumFrames(top.WaitForLines(0, {}), "analytics");
  EXPECT_EQ(analytics.published, 3u);
  EXPECT_EQ(analytics.settled, 0u);
  EXPECT_EQ(top.Stop(), 0) << top.Errors();
}

TEST_F(BrokerctlTest, TopInATerminalRefreshesInColourAndCtrlCExitsZero) {
  TerminalBrokerctl top({"--addr", addr_, "top", "--interval", "100ms"});
  // Two frames: each clears the screen and shows email's DLQ depth in red.
  const std::string screen = top.WaitFor(kRedFive, 2, std::chrono::seconds(20));
  ASSERT_GE(std::count(screen.begin(), screen.end(), '\x1b'), 4) << screen;
  EXPECT_NE(screen.find("\x1b[H\x1b[2J"), std::string::npos) << screen;
  EXPECT_NE(screen.find("Ctrl-C quits"), std::string::npos) << screen;
  EXPECT_NE(screen.find("orders"), std::string::npos) << screen;
  EXPECT_EQ(top.Interrupt(), 0);
}

TEST_F(BrokerctlTest, TopInATerminalHasNoColourWithNoColorSet) {
  TerminalBrokerctl top({"--addr", addr_, "top", "--interval", "100ms"}, {{"NO_COLOR", "1"}});
  // Two whole frames (each starts by clearing the screen, still wanted on a terminal, and ends
  // with the analytics row).
  const std::string screen = top.WaitFor("analytics", 2, std::chrono::seconds(20));
  ASSERT_GE(std::count(screen.begin(), screen.end(), '\n'), 8) << screen;
  EXPECT_NE(screen.find("\x1b[H\x1b[2J"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("\x1b[31m"), std::string::npos) << screen;
  EXPECT_EQ(screen.find("\x1b[33m"), std::string::npos) << screen;
  EXPECT_EQ(top.Interrupt(), 0);
}

TEST_F(BrokerctlTest, TopRefusesATooShortIntervalAndFailsWhenBrokerdIsGone) {
  CommandResult short_interval = Ctl({"top", "--once", "--interval", "10ms"});
  EXPECT_EQ(short_interval.exit_code, 2) << Describe(short_interval);
  EXPECT_NE(short_interval.err.find("at least 100ms"), std::string::npos) << short_interval.err;

  StopBrokerd();
  CommandResult gone = Ctl({"top", "--once", "--interval", "100ms"});
  EXPECT_EQ(gone.exit_code, 1) << Describe(gone);
  EXPECT_TRUE(gone.out.empty()) << gone.out;
}

}  // namespace
}  // namespace broker::testing
