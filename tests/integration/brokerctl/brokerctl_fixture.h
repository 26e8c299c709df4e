// Fixture of the brokerctl integration tests: builds the scenario (scenario.h) in a fresh data
// directory, starts a real brokerd on it, and runs the real brokerctl binary against it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brokerctl_runner.h"
#include "brokerd_process.h"
#include "scenario.h"

namespace broker::testing {

using Json = nlohmann::ordered_json;

// A readable description of a run, for assertion messages.
inline std::string Describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" +
         r.err;
}

// The element of `array` whose `field` equals `value`, or null.
inline Json Find(const Json& array, const std::string& field, const std::string& value) {
  for (const Json& item : array) {
    if (item.contains(field) && item[field] == value) return item;
  }
  return Json();
}

// The first line of `text` matching `pattern` (ECMAScript regex over whole lines), or "".
std::string FindLine(const std::string& text, const std::string& pattern);

class BrokerctlTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // (Re)starts brokerd on the scenario's data directory with `extra_args`.
  void StartBrokerd(const std::vector<std::string>& extra_args = {});
  void StopBrokerd();
  // Stops brokerd and starts it again on the same data directory and address, as a restart of
  // the daemon looks to a client that keeps running.
  void RestartBrokerdOnTheSameAddress();

  // brokerctl --addr <brokerd> args...
  CommandResult Ctl(std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
                    const std::string& stdin_data = "");
  // Ctl with --json; expects exit 0 and one JSON document on stdout (null and a test failure
  // otherwise).
  Json CtlJson(std::vector<std::string> args);

  // Writes `content` into a file of the test's directory; returns its path.
  std::string WriteFile(const std::string& name, const std::string& content);

  // `brokerctl groups list --json`'s entry for `group`.
  Json Group(const std::string& group);
  // `brokerctl dlq list --json`'s entry for `group`.
  Json Dlq(const std::string& group);

  std::filesystem::path dir_;
  std::string data_dir_;
  ScenarioFacts facts_;
  std::optional<BrokerdProcess> brokerd_;
  std::string addr_;
};

// Microsecond bounds for ages: the scenario's clock started two hours before the test.
constexpr int64_t kMinute = 60LL * 1000 * 1000;

}  // namespace broker::testing
