// The command line itself, no brokerd needed: --version, "did you mean" for mistyped commands and
// flags, and the global flags shown in every command's --help.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "brokerctl_runner.h"

namespace broker::testing {
namespace {

std::string Explain(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

// The names listed under "Subcommands:" in a --help text.
std::vector<std::string> SubcommandsIn(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help);
  std::string line;
  bool listing = false;
  const std::regex entry(R"(  ([a-z][a-z-]*)\s+.*)");
  while (std::getline(in, line)) {
    if (line == "Subcommands:") {
      listing = true;
      continue;
    }
    std::smatch m;
    if (!listing) continue;
    if (!std::regex_match(line, m, entry)) break;
    names.push_back(m[1]);
  }
  return names;
}

TEST(BrokerctlCliTest, VersionPrintsTheVersionAndExitsZero) {
  CommandResult r = RunBrokerctl({"--version"});
  EXPECT_EQ(r.exit_code, 0) << Explain(r);
  EXPECT_TRUE(std::regex_match(r.out, std::regex(R"(brokerctl \d+\.\d+\.\d+\n)"))) << r.out;
}

TEST(BrokerctlCliTest, MistypedCommandsGetTheClosestOneNamed) {
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"groups", "lsit"}, "unknown command 'lsit' for 'brokerctl groups'; did you mean 'list'?"},
      {{"topics", "ls"}, "unknown command 'ls' for 'brokerctl topics'; did you mean 'list'?"},
      {{"grops", "list"}, "unknown command 'grops' for 'brokerctl'; did you mean 'groups'?"},
      {{"dlq", "peak", "orders", "email"},
       "unknown command 'peak' for 'brokerctl dlq'; did you mean 'peek'?"},
  };
  for (const auto& c : cases) {
    CommandResult r = RunBrokerctl(c.args);
    EXPECT_EQ(r.exit_code, 2) << Explain(r);
    EXPECT_NE(r.err.find("brokerctl: " + c.message), std::string::npos) << Explain(r);
    EXPECT_EQ(r.out, "");
  }

  // Nothing close: the commands there are are listed instead.
  CommandResult far = RunBrokerctl({"completion"});
  EXPECT_EQ(far.exit_code, 2) << Explain(far);
  EXPECT_NE(far.err.find("unknown command 'completion' for 'brokerctl'; its commands: topics, groups"),
            std::string::npos)
      << Explain(far);
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;

  // No command at all.
  CommandResult none = RunBrokerctl({"dlq"});
  EXPECT_EQ(none.exit_code, 2) << Explain(none);
  EXPECT_NE(none.err.find("'brokerctl dlq' needs a command: list, peek, redrive, purge"),
            std::string::npos)
      << Explain(none);
}

TEST(BrokerctlCliTest, MistypedFlagsGetTheClosestOneNamed) {
  CommandResult json = RunBrokerctl({"groups", "list", "--jsn"});
  EXPECT_EQ(json.exit_code, 2) << Explain(json);
  EXPECT_NE(json.err.find("unknown flag '--jsn' for 'brokerctl groups list'; did you mean '--json'?"),
            std::string::npos)
      << Explain(json);

  CommandResult follow = RunBrokerctl({"tail", "orders", "--folow"});
  EXPECT_EQ(follow.exit_code, 2) << Explain(follow);
  EXPECT_NE(follow.err.find("unknown flag '--folow' for 'brokerctl tail'; did you mean '--follow'?"),
            std::string::npos)
      << Explain(follow);

  // A flag with its value attached is named without the value; nothing close, no guess.
  CommandResult far = RunBrokerctl({"stats", "--colour=always"});
  EXPECT_EQ(far.exit_code, 2) << Explain(far);
  EXPECT_NE(far.err.find("unknown flag '--colour' for 'brokerctl stats'\n"), std::string::npos)
      << Explain(far);
}

TEST(BrokerctlCliTest, EveryCommandsHelpShowsTheGlobalFlags) {
  CommandResult root = RunBrokerctl({"--help"});
  ASSERT_EQ(root.exit_code, 0) << Explain(root);
  EXPECT_EQ(root.out.find("Global options"), std::string::npos);  // listed as its own options
  std::vector<std::vector<std::string>> commands;
  for (const std::string& name : SubcommandsIn(root.out)) commands.push_back({name});
  ASSERT_GE(commands.size(), 8u) << root.out;
  size_t checked = 0;
  for (size_t i = 0; i < commands.size(); ++i) {  // grows as subcommands are found
    std::vector<std::string> args = commands[i];
    args.push_back("--help");
    CommandResult r = RunBrokerctl(args);
    ++checked;
    ASSERT_EQ(r.exit_code, 0) << Explain(r);
    for (const char* flag : {"Global options", "--addr", "--json", "--token", "--timeout"}) {
      EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " missing in\n" << r.out;
    }
    for (const std::string& sub : SubcommandsIn(r.out)) {
      std::vector<std::string> deeper = commands[i];
      deeper.push_back(sub);
      commands.push_back(deeper);
    }
  }
  EXPECT_GE(checked, 20u);  // topics, groups, dlq, msg ... and their subcommands (24 today)
}

}  // namespace
}  // namespace broker::testing
