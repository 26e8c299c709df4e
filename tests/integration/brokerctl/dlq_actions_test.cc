// Commands that change things: redrive (filtered, dry run), purge and topic delete (--yes).
#include "brokerctl_fixture.h"

namespace broker::testing {
namespace {

// The lag numbers of a group without the ages (which move with the clock).
Json LagCounts(Json group) {
  for (Json& p : group["partitions"]) p.erase("oldest_unsettled_age_us");
  group["total"].erase("oldest_unsettled_age_us");
  return {{"partitions", group["partitions"]}, {"total", group["total"]}, {"dlq", group["dlq"]["depth"]}};
}

TEST_F(BrokerctlTest, RedriveFiltersMatchByErrorReasonAndAge) {
  auto matched = [&](std::vector<std::string> filter) {
    std::vector<std::string> args = {"dlq", "redrive", "orders", "email", "--dry-run"};
    args.insert(args.end(), filter.begin(), filter.end());
    Json j = CtlJson(args);
    EXPECT_EQ(j["dry_run"], true);
    EXPECT_EQ(j["redriven"], 0);
    return j["matched"].get<int>();
  };
  EXPECT_EQ(matched({}), 5);
  EXPECT_EQ(matched({"--error-contains", "smtp timeout"}), 2);
  EXPECT_EQ(matched({"--reason", "rejected"}), 2);
  EXPECT_EQ(matched({"--reason", "max_deliveries"}), 3);
  EXPECT_EQ(matched({"--older-than", "1h"}), 4);  // the template failures are 30 minutes old
  EXPECT_EQ(matched({"--reason", "max_deliveries", "--older-than", "1h"}), 2);
  EXPECT_EQ(matched({"--error-contains", "no such text"}), 0);
}

TEST_F(BrokerctlTest, PeekTakesRedrivesFiltersAndShowsWhatItWouldMove) {
  const std::vector<std::vector<std::string>> filters = {
      {},
      {"--error-contains", "smtp timeout"},
      {"--reason", "rejected"},
      {"--reason", "max_deliveries", "--older-than", "1h"},
      {"--error-contains", "no such text"},
  };
  for (const auto& filter : filters) {
    std::vector<std::string> peek = {"dlq", "peek", "orders", "email", "-n", "100"};
    std::vector<std::string> dry_run = {"dlq", "redrive", "orders", "email", "--dry-run"};
    peek.insert(peek.end(), filter.begin(), filter.end());
    dry_run.insert(dry_run.end(), filter.begin(), filter.end());
    Json shown = CtlJson(peek);
    Json matched = CtlJson(dry_run);
    EXPECT_EQ(shown["dead_letters"].size(), matched["matched"].get<size_t>()) << shown;
    EXPECT_EQ(shown["filter"], matched["filter"]);
    for (const Json& d : shown["dead_letters"]) {
      if (filter.size() >= 2 && filter[0] == "--reason") {
        EXPECT_EQ(d["reason"], filter[1]) << d;
      }
      if (filter.size() >= 2 && filter[0] == "--error-contains" && filter[1] == "smtp timeout") {
        EXPECT_NE(d["last_error"].get<std::string>().find("smtp timeout"), std::string::npos) << d;
      }
    }
  }
  // -n still bounds what is shown, now of the matching letters.
  Json one = CtlJson({"dlq", "peek", "orders", "email", "-n", "1", "--reason", "max_deliveries"});
  ASSERT_EQ(one["dead_letters"].size(), 1u) << one;
  EXPECT_EQ(one["dead_letters"][0]["reason"], "max_deliveries");

  CommandResult none = Ctl({"dlq", "peek", "orders", "email", "--error-contains", "no such text"});
  ASSERT_EQ(none.exit_code, 0) << Describe(none);
  EXPECT_EQ(none.out,
            "no dead letters with last error containing 'no such text' for group 'email' of "
            "'orders'\n");
}

TEST_F(BrokerctlTest, AnUnknownReasonIsRefusedWithTheValidOnesNamed) {
  const Json depth_before = Dlq("email")["depth"];
  for (const char* command : {"peek", "redrive", "purge"}) {
    CommandResult r = Ctl({"dlq", command, "orders", "email", "--reason", "max_delivery", "--yes"});
    EXPECT_EQ(r.exit_code, 2) << command << "\n" << Describe(r);
    EXPECT_NE(r.err.find("'max_delivery' is not a dead-letter reason: use max_deliveries or rejected "
                         "(did you mean 'max_deliveries'?)"),
              std::string::npos)
        << command << "\n" << Describe(r);
    EXPECT_EQ(r.out, "");
  }
  CommandResult far = Ctl({"dlq", "redrive", "orders", "email", "--reason", "timeout"});
  EXPECT_EQ(far.exit_code, 2) << Describe(far);
  EXPECT_NE(far.err.find("'timeout' is not a dead-letter reason: use max_deliveries or rejected\n"),
            std::string::npos)
      << Describe(far);
  EXPECT_EQ(Dlq("email")["depth"], depth_before);  // nothing redriven or purged
}

TEST_F(BrokerctlTest, DryRunChangesNothing) {
  const Json email_before = LagCounts(Group("email"));
  const Json analytics_before = LagCounts(Group("analytics"));
  CommandResult r = Ctl({"dlq", "redrive", "orders", "email", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out,
            "dry run: 5 dead letters of group 'email' on 'orders' would be redriven; nothing "
            "changed\n");
  EXPECT_EQ(LagCounts(Group("email")), email_before);
  EXPECT_EQ(LagCounts(Group("analytics")), analytics_before);
  EXPECT_EQ(CtlJson({"dlq", "peek", "orders", "email"})["dead_letters"].size(), 5u);
}

TEST_F(BrokerctlTest, RedriveMovesExactlyTheMatchingLettersBackToThatGroupOnly) {
  const Json analytics_before = LagCounts(Group("analytics"));
  ASSERT_EQ(Dlq("email")["depth"], 5);

  CommandResult r =
      Ctl({"dlq", "redrive", "orders", "email", "--error-contains", "smtp timeout", "--rate", "100/s"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out,
            "redrove 2 of 2 matching dead letters of group 'email' on 'orders' with last error "
            "containing 'smtp timeout' back to group 'email' only, released at 100/s\n");

  // The DLQ lost exactly those two; the group has them to deliver again.
  EXPECT_EQ(Dlq("email")["depth"], 3);
  const Json email = Group("email");
  EXPECT_EQ(email["total"]["unsettled"], 6);
  EXPECT_EQ(email["total"]["backlog"].get<int>() + email["total"]["in_flight"].get<int>() +
                email["total"]["delayed"].get<int>(),
            6);
  // Named first: a range-for over a member of a temporary would read it after it is destroyed.
  Json peeked = CtlJson({"dlq", "peek", "orders", "email"});
  for (const Json& d : peeked["dead_letters"]) {
    EXPECT_EQ(d["last_error"].get<std::string>().find("smtp"), std::string::npos) << d.dump();
  }
  // The other group is untouched: same lag, same DLQ.
  EXPECT_EQ(LagCounts(Group("analytics")), analytics_before);
  EXPECT_EQ(Dlq("analytics")["depth"], 1);

  // Per message: back to available (attempts reset) in email, still acked in analytics.
  for (int i : ScenarioFacts::kEmailSmtpTimeout) {
    Json j = CtlJson({"msg", "show", "orders", std::to_string(facts_.placed[i].partition),
                      std::to_string(facts_.placed[i].offset)});
    const Json state = Find(j["groups"], "group", "email");
    EXPECT_TRUE(state["status"] == "available" || state["status"] == "delayed") << state.dump();
    EXPECT_EQ(state["attempts"], 0);
    EXPECT_EQ(Find(j["groups"], "group", "analytics")["status"], "acked");
  }

  // Nothing left to match.
  Json again = CtlJson({"dlq", "redrive", "orders", "email", "--error-contains", "smtp timeout"});
  EXPECT_EQ(again["matched"], 0);
  EXPECT_EQ(again["redriven"], 0);
}

TEST_F(BrokerctlTest, PurgeNeedsYes) {
  CommandResult refused = Ctl({"dlq", "purge", "orders", "email", "--reason", "rejected"});
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_EQ(refused.out, "");
  EXPECT_EQ(refused.err,
            "brokerctl: refusing to purge dead letters of group 'email' on 'orders' with reason "
            "'rejected' (2 match) without --yes; purged letters are gone\n");
  EXPECT_EQ(Dlq("email")["depth"], 5);

  Json purged = CtlJson({"dlq", "purge", "orders", "email", "--reason", "rejected", "--yes"});
  EXPECT_EQ(purged["purged"], 2);
  EXPECT_EQ(purged["filter"]["reason"], "rejected");
  EXPECT_EQ(Dlq("email")["depth"], 3);
  EXPECT_EQ(Dlq("analytics")["depth"], 1);
  // Named first: a range-for over a member of a temporary would read it after it is destroyed.
  Json peeked = CtlJson({"dlq", "peek", "orders", "email"});
  for (const Json& d : peeked["dead_letters"]) {
    EXPECT_EQ(d["reason"], "max_deliveries");
  }
}

TEST_F(BrokerctlTest, TopicDeleteNeedsYes) {
  CommandResult refused = Ctl({"topics", "delete", "orders"});
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_NE(refused.err.find("without --yes"), std::string::npos) << refused.err;
  EXPECT_FALSE(Find(CtlJson({"topics", "list"})["topics"], "name", "orders").is_null());

  CommandResult json_refused = Ctl({"topics", "delete", "orders", "--json"});
  EXPECT_EQ(json_refused.exit_code, 2);
  Json error = Json::parse(json_refused.err, nullptr, false);
  EXPECT_EQ(error["error"]["code"], "usage") << json_refused.err;
  EXPECT_EQ(error["error"]["exit_code"], 2);

  CommandResult deleted = Ctl({"topics", "delete", "orders", "--yes"});
  EXPECT_EQ(deleted.exit_code, 0) << Describe(deleted);
  EXPECT_EQ(deleted.out, "deleted topic 'orders'\n");
  EXPECT_TRUE(Find(CtlJson({"topics", "list"})["topics"], "name", "orders").is_null());
}

}  // namespace
}  // namespace broker::testing
