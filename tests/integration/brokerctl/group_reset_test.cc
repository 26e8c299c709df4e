// groups reset: moves one group's position (never another group's), needs --yes, keeps dead
// letters.
#include <ctime>

#include "brokerctl_fixture.h"

namespace broker::testing {
namespace {

std::string Rfc3339(TimePoint t) {
  const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                  t.time_since_epoch()).count();
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json Counts(Json group) {
  for (Json& p : group["partitions"]) p.erase("oldest_unsettled_age_us");
  group["total"].erase("oldest_unsettled_age_us");
  return {{"partitions", group["partitions"]}, {"total", group["total"]}};
}

TEST_F(BrokerctlTest, GroupsResetNeedsYesAndChangesNothingWithoutIt) {
  CommandResult r = Ctl({"groups", "reset", "email", "--to", "latest"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_EQ(r.err,
            "brokerctl: refusing to reset group 'email' on 'orders' to latest without --yes: its "
            "position moves in every partition and the state of its 4 unsettled messages "
            "(leases, delays, attempts) is dropped\n");
  EXPECT_EQ(Group("email")["total"]["unsettled"], 4);
}

TEST_F(BrokerctlTest, GroupsResetToLatestSkipsTheBacklogOfThatGroupOnly) {
  const Json analytics_before = Counts(Group("analytics"));
  Json j = CtlJson({"groups", "reset", "email", "--to", "latest", "--yes"});
  EXPECT_EQ(j["to"]["position"], "latest");
  EXPECT_EQ(j["after"]["total"]["unsettled"], 0);
  EXPECT_EQ(j["after"]["dlq"]["depth"], 5);  // dead letters stay
  ASSERT_EQ(j["before"].size(), 2u);
  for (uint32_t p = 0; p < 2; ++p) {
    EXPECT_EQ(j["before"][p]["ack_floor"], facts_.CountIn(p, 0, ScenarioFacts::kFirstBacklog));
    EXPECT_EQ(j["after"]["partitions"][p]["ack_floor"], facts_.CountIn(p, 0, ScenarioFacts::kMessages));
  }
  EXPECT_EQ(Group("email")["total"]["unsettled"], 0);
  EXPECT_EQ(Counts(Group("analytics")), analytics_before);
}

TEST_F(BrokerctlTest, GroupsResetToEarliestAndToTimeReplay) {
  CommandResult earliest = Ctl({"groups", "reset", "email", "--topic", "orders", "--to", "earliest", "--yes"});
  ASSERT_EQ(earliest.exit_code, 0) << Describe(earliest);
  EXPECT_NE(FindLine(earliest.out, "reset group 'email' on 'orders' to earliest"), "") << earliest.out;
  EXPECT_NE(FindLine(earliest.out, " +total +4 -> 16"), "") << earliest.out;
  EXPECT_NE(FindLine(earliest.out, "dead letters stay: 5 in orders\\.email\\.dlq"), "") << earliest.out;
  EXPECT_EQ(Group("email")["total"]["unsettled"], ScenarioFacts::kMessages);

  // The backlog was published 100 minutes into the scenario.
  const std::string at = Rfc3339(facts_.start + std::chrono::minutes(100));
  Json j = CtlJson({"groups", "reset", "email", "--to", "time", "--time", at, "--yes"});
  EXPECT_EQ(j["to"]["position"], "time");
  EXPECT_EQ(j["after"]["total"]["unsettled"], 4) << j.dump(2);
  EXPECT_EQ(j["after"]["total"]["backlog"], 4);

  // "3h" means three hours ago: before the scenario's first record, so all are replayed.
  Json ago = CtlJson({"groups", "reset", "email", "--to", "time", "--time", "3h", "--yes"});
  EXPECT_EQ(ago["after"]["total"]["unsettled"], ScenarioFacts::kMessages);

  Json offset = CtlJson({"groups", "reset", "email", "--to", "offset", "--offset", "1", "--yes"});
  EXPECT_EQ(offset["after"]["partitions"][0]["ack_floor"], 1);
  EXPECT_EQ(offset["after"]["partitions"][1]["ack_floor"], 1);
}

}  // namespace
}  // namespace broker::testing
