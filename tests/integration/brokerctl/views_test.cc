// Read-only views of the scenario: group lag, dead-letter queues, single messages, topics, stats.
// JSON fields and values are checked exactly; tables by their key lines.
#include "brokerctl_fixture.h"

namespace broker::testing {
namespace {

TEST_F(BrokerctlTest, GroupsListJsonHasLagPerPartitionAndTotal) {
  Json list = CtlJson({"groups", "list"});
  ASSERT_EQ(list["groups"].size(), 2u) << list.dump(2);

  const Json email = Find(list["groups"], "group", "email");
  ASSERT_FALSE(email.is_null());
  EXPECT_EQ(email["topic"], "orders");
  EXPECT_EQ(email["config"]["max_deliveries"], 3);
  EXPECT_EQ(email["members"].size(), 0u);
  EXPECT_EQ(email["total"]["backlog"], 4);
  EXPECT_EQ(email["total"]["in_flight"], 0);
  EXPECT_EQ(email["total"]["delayed"], 0);
  EXPECT_EQ(email["total"]["unsettled"], 4);
  EXPECT_EQ(email["total"]["expired"], 0);
  // The oldest unsettled email is one of the orders published 100 minutes in: about 20 min old.
  const int64_t email_age = email["total"]["oldest_unsettled_age_us"];
  EXPECT_GE(email_age, 19 * kMinute);
  EXPECT_LT(email_age, 25 * kMinute);
  EXPECT_EQ(email["dlq"]["topic"], "orders.email.dlq");
  EXPECT_EQ(email["dlq"]["depth"], 5);
  ASSERT_EQ(email["partitions"].size(), 2u);
  for (uint32_t p = 0; p < 2; ++p) {
    const Json& lag = email["partitions"][p];
    EXPECT_EQ(lag["partition"], p);
    EXPECT_EQ(lag["end_offset"], facts_.CountIn(p, 0, ScenarioFacts::kMessages));
    EXPECT_EQ(lag["ack_floor"], facts_.CountIn(p, 0, ScenarioFacts::kFirstBacklog));
    EXPECT_EQ(lag["backlog"],
              facts_.CountIn(p, ScenarioFacts::kFirstBacklog, ScenarioFacts::kMessages));
    EXPECT_EQ(lag["unsettled"], lag["backlog"]);
  }

  const Json analytics = Find(list["groups"], "group", "analytics");
  ASSERT_FALSE(analytics.is_null());
  EXPECT_EQ(analytics["total"]["backlog"], 4);
  EXPECT_EQ(analytics["total"]["delayed"], 1);  // nacked with a 10-hour delay
  EXPECT_EQ(analytics["total"]["unsettled"], 5);
  // Its oldest unsettled message is the delayed one, published at the start: two hours old.
  const int64_t analytics_age = analytics["total"]["oldest_unsettled_age_us"];
  EXPECT_GE(analytics_age, 115 * kMinute);
  EXPECT_LT(analytics_age, 125 * kMinute);
  EXPECT_EQ(analytics["dlq"]["depth"], 1);
  const auto delayed = facts_.placed[ScenarioFacts::kAnalyticsDelayed];
  EXPECT_EQ(analytics["partitions"][delayed.partition]["ack_floor"], delayed.offset);
  EXPECT_EQ(analytics["partitions"][delayed.partition]["delayed"], 1);
}

TEST_F(BrokerctlTest, GroupsListTableShowsEachGroupOnOneLine) {
  CommandResult r = Ctl({"groups", "list"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "TOPIC +GROUP +MEMBERS +BACKLOG +IN_FLIGHT +DELAYED +UNSETTLED +OLDEST +DLQ"),
            "")
      << r.out;
  // TOPIC GROUP MEMBERS BACKLOG IN_FLIGHT DELAYED UNSETTLED OLDEST DLQ, ages in human units.
  EXPECT_NE(FindLine(r.out, "orders +email +0 +4 +0 +0 +4 +(19|2[0-4])m(\\d+s)? +5"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "orders +analytics +0 +4 +0 +1 +5 +(1h5\\dm|2h(\\dm)?) +1"), "") << r.out;
}

TEST_F(BrokerctlTest, GroupsDescribeShowsPartitionsTotalMembersAndDlq) {
  CommandResult r = Ctl({"groups", "describe", "email"});  // topic found by name
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "topic: +orders"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "config: +start=earliest ordering=none .*max_deliveries=3 .*"), "")
      << r.out;
  EXPECT_NE(FindLine(r.out, "dead letters: +5 in orders\\.email\\.dlq, oldest 1h5\\dm"), "") << r.out;
  EXPECT_NE(FindLine(r.out, " +total +4 +0 +0 +4 +\\S+ +0"), "") << r.out;
  for (uint32_t p = 0; p < 2; ++p) {
    const std::string row = " +" + std::to_string(p) + " +" +
                            std::to_string(facts_.CountIn(p, 0, 16)) + " +" +
                            std::to_string(facts_.CountIn(p, 0, 12)) + " +" +
                            std::to_string(facts_.CountIn(p, 12, 16)) + " +0 +0 .*";
    EXPECT_NE(FindLine(r.out, row), "") << row << "\n" << r.out;
  }
  EXPECT_NE(FindLine(r.out, "members: none subscribed"), "") << r.out;

  Json j = CtlJson({"groups", "describe", "analytics", "--topic", "orders", "--leases"});
  EXPECT_EQ(j["group"], "analytics");
  EXPECT_EQ(j["total"]["delayed"], 1);
  EXPECT_EQ(j["leases"].size(), 0u);
  EXPECT_EQ(j["leases_complete"], true);
}

TEST_F(BrokerctlTest, DlqListShowsEveryDlqWithDepthAndOldestAge) {
  Json list = CtlJson({"dlq", "list"});
  ASSERT_EQ(list["dlqs"].size(), 2u) << list.dump(2);
  const Json email = Find(list["dlqs"], "group", "email");
  EXPECT_EQ(email["dlq_topic"], "orders.email.dlq");
  EXPECT_EQ(email["topic"], "orders");
  EXPECT_EQ(email["depth"], 5);
  // The first rejections happened a minute in: just under two hours ago.
  EXPECT_GE(email["oldest_age_us"].get<int64_t>(), 115 * kMinute);
  EXPECT_LT(email["oldest_age_us"].get<int64_t>(), 120 * kMinute);
  EXPECT_EQ(Find(list["dlqs"], "group", "analytics")["depth"], 1);

  CommandResult r = Ctl({"dlq", "list"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "DLQ +TOPIC +GROUP +DEPTH +OLDEST"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "orders\\.email\\.dlq +orders +email +5 +1h5\\dm"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "orders\\.analytics\\.dlq +orders +analytics +1 +1h5\\dm"), "") << r.out;
}

TEST_F(BrokerctlTest, DlqPeekJsonHasReasonsErrorsHeadersAndSafePayloads) {
  Json peek = CtlJson({"dlq", "peek", "orders", "email", "-n", "10"});
  const Json& letters = peek["dead_letters"];
  ASSERT_EQ(letters.size(), 5u) << peek.dump(2);
  int rejected = 0, max_deliveries = 0;
  for (const Json& d : letters) {
    rejected += d["reason"] == "rejected" ? 1 : 0;
    max_deliveries += d["reason"] == "max_deliveries" ? 1 : 0;
    std::map<std::string, std::string> headers;
    for (const Json& h : d["record"]["headers"]) headers[h["name"]] = h["value"];
    EXPECT_EQ(headers["dlq.original_topic"], "orders");
    EXPECT_EQ(headers["dlq.group"], "email");
    EXPECT_EQ(headers["dlq.reason"], d["reason"]);
    EXPECT_EQ(headers["dlq.last_error"], d["last_error"]);
    EXPECT_EQ(headers["dlq.original_offset"], std::to_string(d["original_offset"].get<uint64_t>()));
    EXPECT_TRUE(headers.count("dlq.dead_at"));
    EXPECT_TRUE(headers["traceparent"].starts_with("00-"));  // the producer's headers are kept
  }
  EXPECT_EQ(rejected, 2);
  EXPECT_EQ(max_deliveries, 3);

  auto letter_of = [&](int i) {
    for (const Json& d : letters) {
      if (d["original_partition"] == facts_.placed[i].partition &&
          d["original_offset"] == facts_.placed[i].offset) {
        return d;
      }
    }
    return Json();
  };
  const Json binary = letter_of(ScenarioFacts::kBinaryMessage);
  ASSERT_FALSE(binary.is_null());
  EXPECT_EQ(binary["reason"], "rejected");
  EXPECT_EQ(binary["last_error"], "payload is not JSON");
  EXPECT_EQ(binary["record"]["payload_encoding"], "base64");
  EXPECT_EQ(binary["record"]["payload"], "AAEC//5ub3QganNvbiBhdCBhbGw=");
  EXPECT_EQ(binary["record"]["payload_bytes"], 20);
  const Json smtp = letter_of(ScenarioFacts::kEmailSmtpTimeout[0]);
  EXPECT_EQ(smtp["reason"], "max_deliveries");
  EXPECT_EQ(smtp["attempts"], 3);
  EXPECT_EQ(smtp["last_error"], "smtp timeout: mx1.example.com:25 did not answer in 30s");
  EXPECT_EQ(smtp["record"]["payload_encoding"], "utf8");
  EXPECT_EQ(smtp["record"]["payload"], facts_.payloads[ScenarioFacts::kEmailSmtpTimeout[0]]);
  EXPECT_EQ(smtp["record"]["key"], "customer-1");
  const Json tmpl = letter_of(ScenarioFacts::kEmailTemplateMissing[0]);
  EXPECT_EQ(tmpl["last_error"], "template 'receipt-v2' missing");
  EXPECT_GE(tmpl["age_us"].get<int64_t>(), 29 * kMinute);  // died 90 minutes in
  EXPECT_LT(tmpl["age_us"].get<int64_t>(), 35 * kMinute);

  // -n limits the answer.
  EXPECT_EQ(CtlJson({"dlq", "peek", "orders", "email", "-n", "2"})["dead_letters"].size(), 2u);
}

TEST_F(BrokerctlTest, DlqPeekTextShowsTextAsTextAndBinaryAsHex) {
  CommandResult r = Ctl({"dlq", "peek", "orders", "email", "-n", "10"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "  reason: +rejected"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "  last error: +payload is not JSON"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "  payload \\(binary, 20 bytes, hex\\):"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "    00000000  00 01 02 ff fe 6e 6f 74  20 6a 73 6f 6e 20 61 74  \\|\\.\\.\\.\\.\\.not json at\\|"),
            "")
      << r.out;
  EXPECT_NE(FindLine(r.out, "  payload \\(text, \\d+ bytes\\):"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "    \\{\"order\": 1001, \"email\": \"user-1@example.com\"\\}"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "    dlq\\.reason = max_deliveries"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "    dlq\\.original_topic = orders"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "    traceparent = 00-[0-9a-f]{32}-[0-9a-f]{16}-01"), "") << r.out;
  // No raw control bytes reach the terminal.
  EXPECT_EQ(r.out.find('\x01'), std::string::npos);
}

TEST_F(BrokerctlTest, MsgShowGivesTheRecordAndItsStateInEveryGroup) {
  const auto smtp = facts_.placed[ScenarioFacts::kEmailSmtpTimeout[0]];
  Json j = CtlJson({"msg", "show", "orders", std::to_string(smtp.partition),
                    std::to_string(smtp.offset)});
  EXPECT_EQ(j["record"]["key"], "customer-1");
  EXPECT_EQ(j["record"]["offset"], smtp.offset);
  const Json email = Find(j["groups"], "group", "email");
  EXPECT_EQ(email["status"], "dead");
  EXPECT_EQ(email["attempts"], 3);
  EXPECT_EQ(email["last_error"], "smtp timeout: mx1.example.com:25 did not answer in 30s");
  EXPECT_EQ(Find(j["groups"], "group", "analytics")["status"], "acked");

  const auto delayed = facts_.placed[ScenarioFacts::kAnalyticsDelayed];
  CommandResult r = Ctl({"msg", "show", "orders", std::to_string(delayed.partition),
                         std::to_string(delayed.offset)});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "analytics +delayed +1 +redelivery in [78]h\\d+m +warehouse unavailable"), "")
      << r.out;
  EXPECT_NE(FindLine(r.out, "email +acked +- +- +-"), "") << r.out;
}

TEST_F(BrokerctlTest, TopicsListAndDescribe) {
  Json topics = CtlJson({"topics", "list"});
  const Json orders = Find(topics["topics"], "name", "orders");
  ASSERT_FALSE(orders.is_null()) << topics.dump(2);
  EXPECT_EQ(orders["config"]["partitions"], 2);
  EXPECT_EQ(orders["records"], 16);
  EXPECT_FALSE(Find(topics["topics"], "name", "orders.email.dlq").is_null());

  Json described = CtlJson({"topics", "describe", "orders"});
  EXPECT_EQ(described["partitions"].size(), 2u);
  EXPECT_EQ(described["groups"].size(), 2u);
  EXPECT_EQ(Find(described["groups"], "group", "email")["dlq_depth"], 5);

  CommandResult r = Ctl({"topics", "describe", "orders"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "records: +16 \\(.*\\)"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "email +0 +4 +\\S+ +5"), "") << r.out;
}

TEST_F(BrokerctlTest, InterestTopicCreateAndDescribe) {
  CommandResult created =
      Ctl({"topics", "create", "emails", "--retention", "interest", "--max-bytes", "1048576"});
  ASSERT_EQ(created.exit_code, 0) << Describe(created);
  EXPECT_NE(created.out.find("retention interest"), std::string::npos) << created.out;
  ASSERT_EQ(Ctl({"publish", "emails", "hello"}).exit_code, 0);

  Json described = CtlJson({"topics", "describe", "emails"});
  EXPECT_EQ(described["config"]["retention"], "interest");
  EXPECT_EQ(described["config"]["max_bytes"], 1048576);
  EXPECT_GT(described["bytes"].get<int>(), 0);
  CommandResult table = Ctl({"topics", "describe", "emails"});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  EXPECT_NE(FindLine(table.out, "retention: +interest"), "") << table.out;
  EXPECT_NE(FindLine(table.out, "max bytes: +1\\.0 MiB \\(0% used\\)"), "") << table.out;
  EXPECT_NE(FindLine(Ctl({"topics", "describe", "orders"}).out,
                     "max bytes: +none \\(limits retention\\)"),
            "");

  // Bad input: a cap on a limits topic, an unknown policy; neither creates anything.
  CommandResult capped_limits = Ctl({"topics", "create", "bad1", "--max-bytes", "100"});
  EXPECT_EQ(capped_limits.exit_code, 1) << Describe(capped_limits);
  EXPECT_NE(capped_limits.err.find("invalid_argument"), std::string::npos) << capped_limits.err;
  CommandResult unknown = Ctl({"topics", "create", "bad2", "--retention", "whenever"});
  EXPECT_EQ(unknown.exit_code, 2) << Describe(unknown);
  Json topics = CtlJson({"topics", "list"});
  EXPECT_TRUE(Find(topics["topics"], "name", "bad1").is_null());
  EXPECT_TRUE(Find(topics["topics"], "name", "bad2").is_null());
}

TEST_F(BrokerctlTest, StatsAndHealth) {
  Json stats = CtlJson({"stats"});
  EXPECT_EQ(stats["groups"], 2);
  EXPECT_GE(stats["topics"].get<int>(), 1);
  EXPECT_EQ(stats["data_dir"], data_dir_);

  Json health = CtlJson({"health"});
  EXPECT_EQ(health["status"], "SERVING");
  EXPECT_EQ(health["serving"], true);
  CommandResult r = Ctl({"health"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(FindLine(r.out, "brokerd at " + addr_ + ": SERVING \\(answered in .*\\)"), "") << r.out;
}

}  // namespace
}  // namespace broker::testing
