// brokerd's Prometheus endpoint (--metrics-listen): a real brokerd, real publishes and consumers
// over gRPC, scrapes parsed strictly (prometheus_parser.h) and checked against what was done.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <atomic>
#include <map>
#include <stdexcept>
#include <string>

#include "broker/v1/admin.grpc.pb.h"
#include "brokerd_fixture.h"
#include "prometheus_parser.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class MetricsTest : public BrokerdTest {
 protected:
  // Starts brokerd with the metrics listener on a free port and learns the port from its
  // "brokerd: metrics on http://HOST:PORT/metrics" line.
  void StartWithMetrics(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--metrics-listen", "127.0.0.1:0"});
    StartBrokerd(args);
    const std::string output = brokerd_->Output();
    const std::string marker = "brokerd: metrics on http://";
    const size_t at = output.find(marker);
    ASSERT_NE(at, std::string::npos) << output;
    const size_t end = output.find("/metrics", at + marker.size());
    ASSERT_NE(end, std::string::npos) << output;
    metrics_address_ = output.substr(at + marker.size(), end - at - marker.size());
  }

  // GET /metrics, parsed. Fails the test (and returns an empty scrape) on any error.
  PromScrape Scrape() {
    const size_t colon = metrics_address_.rfind(':');
    httplib::Client http(metrics_address_.substr(0, colon),
                         std::stoi(metrics_address_.substr(colon + 1)));
    http.set_connection_timeout(5s);
    http.set_read_timeout(10s);
    auto response = http.Get("/metrics");
    if (!response) {
      ADD_FAILURE() << "GET /metrics failed: " << httplib::to_string(response.error());
      return {};
    }
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(response->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"))
        << response->get_header_value("Content-Type");
    try {
      return ParsePrometheusText(response->body);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << response->body;
      return {};
    }
  }

  void CreateGroup(const std::string& topic, const std::string& group) {
    auto channel = grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials());
    auto stub = v1::AdminService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::CreateGroupRequest request;
    request.set_topic(topic);
    request.set_group(group);
    v1::GroupInfo response;
    const grpc::Status status = stub->CreateGroup(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::string metrics_address_;
};

TEST_F(MetricsTest, ServesWellFormedMetricsThatFollowTheConventions) {
  StartWithMetrics();
  auto client = Connect();
  ASSERT_TRUE(client->Publish("orders", {.payload = "x"}).get().ok());
  const PromScrape scrape = Scrape();
  ASSERT_FALSE(scrape.samples.empty());
  for (const auto& [family, type] : scrape.types) {
    EXPECT_TRUE(family.starts_with("broker_") || family.starts_with("process_")) << family;
    EXPECT_EQ(type == "counter", family.ends_with("_total")) << family << " is a " << type;
    EXPECT_FALSE(scrape.help.at(family).empty()) << family;
  }
  for (const PromSample& s : scrape.samples) {
    for (const auto& [label, value] : s.labels) {
      EXPECT_TRUE(label == "topic" || label == "group" || label == "partition" || label == "le" ||
                  label == "version")
          << s.name << " has label " << label;
    }
  }
  EXPECT_EQ(scrape.Value("broker_scrape_errors"), 0.0);
  EXPECT_EQ(scrape.Value("broker_build_info", {{"version", "0.1.0"}}), 1.0);
  EXPECT_GT(*scrape.Value("process_start_time_seconds"), 1.6e9);
  EXPECT_GT(*scrape.Value("broker_data_dir_size_bytes"), 0.0);
  EXPECT_GT(*scrape.Value("broker_data_dir_filesystem_available_bytes"), 0.0);
}

TEST_F(MetricsTest, ReportsPublishesDeliveriesSettlesLagAndDeadLetters) {
  StartWithMetrics();
  auto client = Connect();
  constexpr int kMessages = 20;
  for (int i = 0; i < kMessages; ++i) {
    const std::string payload = i == 7 ? "poison" : "m" + std::to_string(i);
    auto published =
        client->Publish("orders", {.key = std::to_string(i), .payload = payload}).get();
    ASSERT_TRUE(published.ok()) << published.status().ToString();
  }
  // A group that exists but has consumed nothing: all of it is backlog. Created through the admin
  // plane, which also gives the log an admin_change line (logging_test.cc checks those).
  CreateGroup("orders", "billing");

  const PromScrape before = Scrape();
  EXPECT_GE(*before.Value("broker_messages_appended_total"), kMessages);
  EXPECT_GE(*before.Value("broker_publish_requests_total"), kMessages);
  EXPECT_EQ(before.Sum("broker_partition_end_offset", {{"topic", "orders"}}), kMessages);
  EXPECT_EQ(before.Sum("broker_partition_records", {{"topic", "orders"}}), kMessages);
  EXPECT_GT(before.Sum("broker_partition_size_bytes", {{"topic", "orders"}}), 0);
  EXPECT_EQ(before.Value("broker_topic_partitions", {{"topic", "orders"}}), 1.0);

  // The fsync histogram: one sample per synced commit, cumulative buckets ending in +Inf.
  const double synced = *before.Value("broker_log_synced_commits_total");
  EXPECT_GE(synced, 1);
  EXPECT_EQ(before.Value("broker_log_sync_duration_seconds_count"), synced);
  EXPECT_EQ(before.Value("broker_log_sync_duration_seconds_bucket", {{"le", "+Inf"}}), synced);
  EXPECT_GT(*before.Value("broker_log_sync_duration_seconds_sum"), 0.0);
  double previous = 0;
  for (const PromSample& bucket : before.Find("broker_log_sync_duration_seconds_bucket")) {
    EXPECT_GE(bucket.value, previous) << "le=" << bucket.labels.at("le");
    previous = bucket.value;
  }

  // Consume everything in group "email"; "poison" fails once and is dead-lettered (1 delivery).
  std::atomic<int> handled{0};
  client::ConsumerOptions options;
  options.group.max_deliveries = 1;
  auto consumer = client->Subscribe(
      "orders", "email",
      [&](const client::ReceivedMessage& m) {
        ++handled;
        if (m.record.payload == "poison") throw std::runtime_error("cannot parse");
      },
      options);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  const std::map<std::string, std::string> email = {{"topic", "orders"}, {"group", "email"}};
  PromScrape after;
  ASSERT_TRUE(Eventually([&] {
    after = Scrape();
    return after.Value("broker_group_acks_total", email) == kMessages - 1.0 &&
           after.Value("broker_group_dlq_messages", email) == 1.0;
  })) << "acks "
      << after.Value("broker_group_acks_total", email).value_or(-1);
  EXPECT_EQ(after.Value("broker_group_deliveries_total", email), kMessages);
  EXPECT_EQ(after.Value("broker_group_redeliveries_total", email), 0.0);
  EXPECT_EQ(after.Value("broker_group_nacks_total", email), 1.0);
  EXPECT_EQ(after.Value("broker_group_dead_letters_total", email), 1.0);
  EXPECT_EQ(after.Value("broker_group_rejects_total", email), 0.0);
  EXPECT_EQ(after.Value("broker_group_lease_expiries_total", email), 0.0);
  EXPECT_EQ(after.Value("broker_group_members", email), 1.0);
  EXPECT_EQ(after.Sum("broker_group_unsettled_messages", email), 0.0);
  EXPECT_EQ(after.Sum("broker_group_backlog_messages", email), 0.0);
  EXPECT_EQ(after.Value("broker_group_oldest_unsettled_age_seconds",
                        {{"topic", "orders"}, {"group", "email"}, {"partition", "0"}}),
            0.0);
  EXPECT_GE(*after.Value("broker_group_dlq_oldest_age_seconds", email), 0.0);
  // The dead letter is a record of the DLQ topic.
  EXPECT_EQ(after.Sum("broker_partition_end_offset", {{"topic", "orders.email.dlq"}}), 1.0);
  ASSERT_TRUE((*consumer)->Close().ok());

  // Group "billing" has everything as backlog, aging.
  const std::map<std::string, std::string> billing = {{"topic", "orders"}, {"group", "billing"}};
  EXPECT_EQ(after.Value("broker_group_members", billing), 0.0);
  EXPECT_EQ(after.Sum("broker_group_backlog_messages", billing), kMessages);
  EXPECT_EQ(after.Sum("broker_group_unsettled_messages", billing), kMessages);
  EXPECT_EQ(after.Value("broker_group_deliveries_total", billing), 0.0);
  EXPECT_GT(*after.Value("broker_group_oldest_unsettled_age_seconds",
                         {{"topic", "orders"}, {"group", "billing"}, {"partition", "0"}}),
            0.0);
}

TEST_F(MetricsTest, IsOffByDefaultAndABadAddressStopsStartup) {
  StartBrokerd();
  EXPECT_EQ(brokerd_->Output().find("metrics on"), std::string::npos) << brokerd_->Output();
  brokerd_->Stop();

  std::string error;
  auto bad = testing::BrokerdProcess::Start(Path("other-data"), {"--metrics-listen", "nonsense"},
                                            &error, 20s);
  EXPECT_FALSE(bad.has_value());
  EXPECT_NE(error.find("--metrics-listen"), std::string::npos) << error;
}

}  // namespace
}  // namespace broker::integration
