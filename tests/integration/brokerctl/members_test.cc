// groups describe with a live member: brokerctl shows the member, its leased count and, with
// --leases, each leased message. The member is a real gRPC subscriber (the client library's gRPC
// transport) holding two leases.
#include "brokerctl_fixture.h"
#include "broker/client/grpc_transport.h"

namespace broker::testing {
namespace {

TEST_F(BrokerctlTest, GroupsDescribeShowsMembersAndTheirLeases) {
  auto transport = client::MakeGrpcTransport({.address = addr_});
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  auto sub = (*transport)->Subscribe("orders", "email",
                                     SubscribeOptions{.member = "email-worker-7", .max_in_flight = 2});
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  std::vector<Delivery> leased;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (leased.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto got = (*sub)->Poll(2 - leased.size(), std::chrono::milliseconds(500));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (auto& d : *got) leased.push_back(std::move(d));
  }
  ASSERT_EQ(leased.size(), 2u);

  Json j = CtlJson({"groups", "describe", "email", "--leases"});
  ASSERT_EQ(j["members"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["members"][0]["name"], "email-worker-7");
  EXPECT_EQ(j["members"][0]["max_in_flight"], 2);
  EXPECT_EQ(j["members"][0]["leased"], 2);
  EXPECT_EQ(j["total"]["in_flight"], 2);
  EXPECT_EQ(j["total"]["backlog"], 2);
  ASSERT_EQ(j["leases"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["leases_complete"], true);
  for (const Json& lease : j["leases"]) {
    EXPECT_EQ(lease["member"], "email-worker-7");
    EXPECT_EQ(lease["attempts"], 1);
    bool found = false;
    for (const Delivery& d : leased) {
      found |= lease["partition"] == d.record.partition.value() &&
               lease["offset"] == d.record.offset.value();
    }
    EXPECT_TRUE(found) << lease.dump();
  }

  CommandResult r = Ctl({"groups", "describe", "email", "--leases"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(FindLine(r.out, "MEMBER +MAX_IN_FLIGHT +LEASED +PARTITIONS"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "email-worker-7 +2 +2 +-"), "") << r.out;
  EXPECT_NE(FindLine(r.out, "MEMBER +PARTITION +OFFSET +ATTEMPT +EXPIRES_IN"), "") << r.out;
  const std::string lease_row = "email-worker-7 +" + std::to_string(leased[0].record.partition.value()) +
                                " +" + std::to_string(leased[0].record.offset.value()) + " +1 +\\d+s";
  EXPECT_NE(FindLine(r.out, lease_row), "") << lease_row << "\n" << r.out;

  // A reset while a member is subscribed is refused by brokerd, and brokerctl says why.
  CommandResult reset = Ctl({"groups", "reset", "email", "--to", "latest", "--yes"});
  EXPECT_EQ(reset.exit_code, 1) << Describe(reset);
  EXPECT_NE(reset.err.find("(failed_precondition)"), std::string::npos) << reset.err;
  sub->reset();
}

}  // namespace
}  // namespace broker::testing
