#include "brokerctl_fixture.h"

#include <fstream>
#include <regex>
#include <sstream>

namespace broker::testing {

std::string FindLine(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (std::regex_match(line, re)) return line;
  }
  return "";
}

void BrokerctlTest::SetUp() {
  char dir_template[] = "/tmp/brokerctl-test-XXXXXX";
  const char* made = mkdtemp(dir_template);
  ASSERT_NE(made, nullptr);
  dir_ = made;
  data_dir_ = (dir_ / "data").string();
  // Whole seconds, two hours ago: ages look like a real incident's.
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const TimePoint start = std::chrono::time_point_cast<std::chrono::microseconds>(
      now - std::chrono::hours(2));
  auto facts = BuildScenario(data_dir_, start);
  ASSERT_TRUE(facts.ok()) << facts.status().ToString();
  facts_ = std::move(facts).value();
  StartBrokerd();
}

void BrokerctlTest::TearDown() {
  StopBrokerd();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

void BrokerctlTest::StartBrokerd(const std::vector<std::string>& extra_args) {
  StopBrokerd();
  std::string error;
  brokerd_ = BrokerdProcess::Start(data_dir_, extra_args, &error);
  ASSERT_TRUE(brokerd_.has_value()) << error;
  addr_ = brokerd_->address();
}

void BrokerctlTest::RestartBrokerdOnTheSameAddress() {
  StopBrokerd();
  std::string error;
  brokerd_ = BrokerdProcess::Start(data_dir_, {}, &error, std::chrono::seconds(20), addr_);
  ASSERT_TRUE(brokerd_.has_value()) << error;
}

void BrokerctlTest::StopBrokerd() {
  if (brokerd_) {
    EXPECT_EQ(brokerd_->Stop(), 0) << brokerd_->Output();
    brokerd_.reset();
  }
}

CommandResult BrokerctlTest::Ctl(std::vector<std::string> args,
                                 const std::map<std::string, std::string>& env,
                                 const std::string& stdin_data) {
  args.insert(args.begin(), {"--addr", addr_});
  return RunBrokerctl(args, env, stdin_data);
}

Json BrokerctlTest::CtlJson(std::vector<std::string> args) {
  args.push_back("--json");
  CommandResult r = Ctl(args);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  if (r.exit_code != 0) return Json();
  Json parsed = Json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(parsed.is_discarded()) << "not JSON:\n" << r.out;
  return parsed.is_discarded() ? Json() : parsed;
}

std::string BrokerctlTest::WriteFile(const std::string& name, const std::string& content) {
  const std::string path = (dir_ / name).string();
  std::ofstream(path) << content;
  return path;
}

Json BrokerctlTest::Group(const std::string& group) {
  Json list = CtlJson({"groups", "list"});
  return list.is_null() ? Json() : Find(list["groups"], "group", group);
}

Json BrokerctlTest::Dlq(const std::string& group) {
  Json list = CtlJson({"dlq", "list"});
  return list.is_null() ? Json() : Find(list["dlqs"], "group", group);
}

}  // namespace broker::testing
