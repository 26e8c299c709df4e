#include "conformance_test.h"

#include <atomic>
#include <mutex>

namespace broker::conformance {

GroupConfig FastRetry(uint32_t max_deliveries, milliseconds backoff) {
  GroupConfig config;
  config.max_deliveries = max_deliveries;
  config.backoff.initial = backoff;
  config.backoff.multiplier = 1.0;
  config.backoff.max = backoff;
  config.backoff.jitter = 0;
  return config;
}

std::string HeaderOr(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

std::string TransportName(const ::testing::TestParamInfo<TransportParam>& info) {
  return info.param.name;
}

void ConformanceTest::SetUp() {
  fixture_ = GetParam().make();
  fixture_->SetUp();
  if (HasFatalFailure()) return;  // the body is skipped
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string_view suite = info->test_suite_name();  // "Transport/PublishConformance"
  std::string_view test = info->name();              // "SinglePublishes.../nats"
  suite = suite.substr(suite.find('/') + 1);
  test = test.substr(0, test.rfind('/'));
  if (const std::string reason = fixture_->SkipReason(suite, test); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  client_ = fixture_->NewClient();
}

void ConformanceTest::TearDown() {
  work_.Stop();
  client_.reset();
  if (fixture_) fixture_->TearDown();
}

std::unique_ptr<client::Client> ConformanceTest::NewClient(client::ClientOptions options) {
  return fixture_->NewClient(std::move(options));
}

std::string ConformanceTest::Topic(std::string_view base) {
  // Unique across tests and across runs of the suite against one long-lived broker.
  static const std::string run =
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
  std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : test) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!allowed) c = '_';
  }
  if (test.size() > 40) test.resize(40);  // "<topic>.<group>.dlq" must stay a valid name
  return std::string(base) + "-" + test + "-" + run + "-" + std::to_string(next_name_++);
}

std::vector<client::ReceivedMessage> ConformanceTest::ReadDeadLetters(const std::string& topic,
                                                                      const std::string& group,
                                                                      size_t count,
                                                                      milliseconds timeout) {
  Recorder<client::ReceivedMessage> letters;
  auto reader =
      Must(client().Subscribe(topic + "." + group + ".dlq", "dlq-reader",
                              [&letters](const client::ReceivedMessage& m) { letters.Add(m); }));
  letters.WaitForCount(count, timeout);
  (void)reader->Close();
  auto all = letters.values();
  if (all.size() > count) all.resize(count);
  return all;
}

}  // namespace broker::conformance
