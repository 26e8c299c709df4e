// brokerd's memory flags, from the command line and from a --config file, and the engine options
// they select: --write-buffer-mib, --memtable-budget-mib, --block-cache-mib.
#include "flags.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace brokerd {
namespace {

class FlagsTest : public ::testing::Test {
 protected:
  FlagsTest() { AddFlags(app_, flags_); }

  void ParseArgs(std::vector<std::string> args) {
    std::vector<const char*> argv{"brokerd"};
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    app_.parse(static_cast<int>(argv.size()), argv.data());
  }
  // What brokerd does with the text of a --config file.
  void ParseConfig(const std::string& text) {
    std::istringstream in(text);
    app_.parse_from_stream(in);
  }

  Flags flags_;
  CLI::App app_{"brokerd", "brokerd"};
};

TEST_F(FlagsTest, DefaultsAreTheEngineDefaults) {
  ParseArgs({});
  const broker::Options engine;
  const broker::Options options = BrokerOptions(flags_);
  EXPECT_EQ(options.write_buffer_bytes, engine.write_buffer_bytes);
  EXPECT_EQ(options.memtable_budget_bytes, engine.memtable_budget_bytes);
  EXPECT_EQ(options.block_cache_bytes, engine.block_cache_bytes);
  EXPECT_EQ(flags_.block_cache_mib, 16u);
}

TEST_F(FlagsTest, MemoryFlagsOnTheCommandLineSetTheEngineOptionsInBytes) {
  ParseArgs({"--block-cache-mib", "64", "--memtable-budget-mib", "96", "--write-buffer-mib", "8"});
  const broker::Options options = BrokerOptions(flags_);
  EXPECT_EQ(options.block_cache_bytes, size_t{64} << 20);
  EXPECT_EQ(options.memtable_budget_bytes, size_t{96} << 20);
  EXPECT_EQ(options.write_buffer_bytes, size_t{8} << 20);
}

TEST_F(FlagsTest, MemoryKeysInAConfigFileSetTheEngineOptions) {
  ParseConfig("block-cache-mib = 0\nmemtable-budget-mib = 32\nwrite-buffer-mib = 4\n");
  const broker::Options options = BrokerOptions(flags_);
  EXPECT_EQ(options.block_cache_bytes, 0u);
  EXPECT_EQ(options.memtable_budget_bytes, size_t{32} << 20);
  EXPECT_EQ(options.write_buffer_bytes, size_t{4} << 20);
}

TEST_F(FlagsTest, OutOfRangeOrMalformedMemoryFlagsAreRefusedWithTheFlagsName) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--block-cache-mib", "-1"},
                                             {"--block-cache-mib", "65537"},
                                             {"--block-cache-mib", "lots"},
                                             {"--memtable-budget-mib", "100000"}}) {
    Flags flags;
    CLI::App app{"brokerd", "brokerd"};
    AddFlags(app, flags);
    std::vector<const char*> argv{"brokerd", args[0].c_str(), args[1].c_str()};
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
      ADD_FAILURE() << args[0] << " " << args[1] << " was accepted";
    } catch (const CLI::ParseError& e) {
      EXPECT_NE(std::string(e.what()).find(args[0]), std::string::npos)
          << "the error names the flag: " << e.what();
    }
  }
}

TEST_F(FlagsTest, AutoCreateRetentionSelectsTheDefaultTopicConfig) {
  ParseArgs({"--auto-create-retention", "interest", "--auto-create-max-bytes", "4096"});
  const broker::Options options = BrokerOptions(flags_);
  EXPECT_EQ(options.default_topic_config.retention, broker::RetentionPolicy::kInterest);
  EXPECT_EQ(options.default_topic_config.max_bytes, 4096u);
}

TEST_F(FlagsTest, DlqRetentionAgeSetsTheDeadLetterTopicConfig) {
  ParseArgs({});
  EXPECT_EQ(BrokerOptions(flags_).dead_letter_topic_config.retention_age.count(), 0);
  Flags flags;
  CLI::App app{"brokerd", "brokerd"};
  AddFlags(app, flags);
  std::vector<const char*> argv{"brokerd", "--dlq-retention-age-ms", "604800000"};
  app.parse(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(BrokerOptions(flags).dead_letter_topic_config.retention_age,
            std::chrono::hours(24 * 7));
  std::vector<const char*> negative{"brokerd", "--dlq-retention-age-ms", "-1"};
  Flags flags2;
  CLI::App app2{"brokerd", "brokerd"};
  AddFlags(app2, flags2);
  EXPECT_THROW(app2.parse(static_cast<int>(negative.size()), negative.data()), CLI::ParseError);
}

TEST_F(FlagsTest, AutoCreateMaxBytesWithoutInterestIsAUsageError) {
  try {
    ParseArgs({"--auto-create-max-bytes", "4096"});
    ADD_FAILURE() << "accepted";
  } catch (const CLI::ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("--auto-create-max-bytes"), std::string::npos) << e.what();
  }
  Flags flags;
  CLI::App app{"brokerd", "brokerd"};
  AddFlags(app, flags);
  std::vector<const char*> argv{"brokerd", "--auto-create-retention", "forever"};
  EXPECT_THROW(app.parse(static_cast<int>(argv.size()), argv.data()), CLI::ParseError);
}

TEST_F(FlagsTest, UnknownConfigKeyIsAnErrorNamingTheKey) {
  try {
    ParseConfig("listen = \"127.0.0.1:7070\"\nmetrics-lisen = \"127.0.0.1:9090\"\n");
    ADD_FAILURE() << "a misspelt key was accepted";
  } catch (const CLI::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics-lisen"), std::string::npos) << e.what();
  }
}

TEST_F(FlagsTest, LogLevelTakesTheNamesBrokerdPrints) {
  for (const std::string level : {"trace", "debug", "info", "warning", "warn", "error"}) {
    Flags flags;
    CLI::App app{"brokerd", "brokerd"};
    AddFlags(app, flags);
    std::vector<const char*> argv{"brokerd", "--log-level", level.c_str()};
    EXPECT_NO_THROW(app.parse(static_cast<int>(argv.size()), argv.data())) << level;
    EXPECT_EQ(flags.log_level, level);
  }
  EXPECT_THROW(ParseArgs({"--log-level", "loud"}), CLI::ValidationError);
}

TEST_F(FlagsTest, ListenAddressesNeedAPort) {
  EXPECT_THROW(ParseArgs({"--listen", "localhost"}), CLI::ValidationError);
  EXPECT_THROW(ParseArgs({"--metrics-listen", "127.0.0.1"}), CLI::ValidationError);
  EXPECT_THROW(ParseArgs({"--listen", "127.0.0.1:70000"}), CLI::ValidationError);
}

TEST_F(FlagsTest, ListenAddressesWithAPortAreTaken) {
  ParseArgs({"--listen", "[::1]:7071", "--metrics-listen", "0.0.0.0:0"});
  EXPECT_EQ(flags_.server.listen, "[::1]:7071");
  EXPECT_EQ(flags_.metrics_listen, "0.0.0.0:0");
}

}  // namespace
}  // namespace brokerd
