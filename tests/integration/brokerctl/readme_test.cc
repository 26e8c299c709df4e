// README's "first five minutes", run as written: the commands between the readme-walkthrough
// markers, each through /bin/sh with brokerctl on PATH and BROKER_ADDR pointing at a fresh real
// brokerd, and each one's output compared with what README shows under it, shape for shape
// (numbers, times and ages may differ; words, fields, lines and their order may not). So README
// cannot rot: change a command's output and this test names the line README must follow.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "brokerctl_runner.h"
#include "brokerd_process.h"

namespace broker::testing {
namespace {

struct Step {
  std::string command;                // after "$ "
  std::vector<std::string> expected;  // the lines README shows under it
};

constexpr char kBegin[] = "<!-- readme-walkthrough:begin -->";
constexpr char kEnd[] = "<!-- readme-walkthrough:end -->";

// The console block between the markers: "$ " lines are commands, the lines up to the next one
// their output.
std::vector<Step> ReadWalkthrough(const std::string& readme_path) {
  std::ifstream in(readme_path);
  std::vector<Step> steps;
  std::string line;
  bool inside = false;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (line == kBegin) {
      inside = true;
      continue;
    }
    if (line == kEnd) break;
    if (!inside) continue;
    if (line.starts_with("```")) {
      in_block = !in_block;
      continue;
    }
    if (!in_block) continue;
    if (line.starts_with("$ ")) {
      steps.push_back({line.substr(2), {}});
    } else if (!steps.empty()) {
      steps.back().expected.push_back(line);
    }
  }
  return steps;
}

// The shape of a line: every duration ("2s", "1h59m", "250ms") becomes <duration>, every other
// run of digits N, and runs of blanks one space (table columns widen with their numbers).
std::string Shape(const std::string& line) {
  static const std::regex kDuration(R"(\b(\d+(ms|s|m|h|d))+\b)");
  static const std::regex kDigits(R"(\d+)");
  static const std::regex kBlanks(R"(\s+)");
  std::string s = std::regex_replace(line, kDuration, "<duration>");
  s = std::regex_replace(s, kDigits, "N");
  s = std::regex_replace(s, kBlanks, " ");
  const size_t first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

TEST(ReadmeTest, FirstFiveMinutesRunAsWrittenAndPrintWhatReadmeShows) {
  const std::vector<Step> steps = ReadWalkthrough(BROKER_README);
  // The walkthrough's point: a group, a failing consumer, its dead letter and the redrive.
  ASSERT_GE(steps.size(), 10u) << "no walkthrough between the markers in " << BROKER_README;
  auto uses = [&](const std::string& what) {
    for (const Step& s : steps) {
      if (s.command.find(what) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(uses("brokerctl consume"));
  EXPECT_TRUE(uses("--reject") || uses("--fail-with"));
  EXPECT_TRUE(uses("brokerctl dlq peek"));
  EXPECT_TRUE(uses("brokerctl dlq redrive"));

  char dir_template[] = "/tmp/brokerctl-readme-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir = dir_template;
  std::string error;
  std::optional<BrokerdProcess> brokerd =
      BrokerdProcess::Start((dir / "data").string(), {}, &error);
  ASSERT_TRUE(brokerd.has_value()) << error;

  const char* path = std::getenv("PATH");
  const std::map<std::string, std::string> env = {
      {"PATH", std::filesystem::path(BrokerctlPath()).parent_path().string() + ":" +
                   (path != nullptr ? path : "/usr/bin:/bin")},
      {"BROKER_ADDR", brokerd->address()}};
  for (const Step& step : steps) {
    SCOPED_TRACE("README: $ " + step.command);
    CommandResult r = RunProgram({"/bin/sh", "-c", step.command}, env, "", std::chrono::seconds(60));
    ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "stderr:\n" << r.err;
    const std::vector<std::string> got = Lines(r.out);
    for (size_t i = 0; i < std::max(got.size(), step.expected.size()); ++i) {
      const std::string want = i < step.expected.size() ? Shape(step.expected[i]) : "(no line)";
      const std::string have = i < got.size() ? Shape(got[i]) : "(no line)";
      EXPECT_EQ(have, want) << "line " << i + 1 << " of the output:\n" << r.out;
      if (have != want) break;  // one mismatch per command is enough to read
    }
  }
  EXPECT_EQ(brokerd->Stop(), 0) << brokerd->Output();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace broker::testing
