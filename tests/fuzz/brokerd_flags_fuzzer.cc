// Fuzz target: brokerd's flag parsing (cmd/brokerd/flags.h, CLI11), both ways it reads input:
//   byte 0 even: the rest is a --config file's text (TOML/INI), parsed as the file would be;
//   byte 0 odd:  the rest is a command line, arguments separated by '\0'.
// brokerd's main catches only CLI::ParseError (a usage error, exit 2): any other exception would
// kill the daemon with a terminate, so only that one is allowed here. What parses must satisfy
// the flags' own checks, and turn into engine options.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "flags.h"
#include "fuzz_check.h"

namespace {

void ParseConfigText(CLI::App& app, const std::string& text) {
  std::istringstream in(text);
  app.parse_from_stream(in);
}

void ParseCommandLine(CLI::App& app, const std::string& text) {
  std::vector<std::string> args;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('\0', begin);
    if (end == std::string::npos) end = text.size();
    args.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  // The --config of a command line would read a file from this machine: not what is fuzzed here.
  for (const std::string& arg : args) {
    if (arg.starts_with("--config")) return;
  }
  std::vector<const char*> argv{"brokerd"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  brokerd::Flags flags;
  CLI::App app{"brokerd: persistent message broker daemon (gRPC)", "brokerd"};
  brokerd::AddFlags(app, flags);
  try {
    if (data[0] % 2 == 0) {
      ParseConfigText(app, text);
    } else {
      ParseCommandLine(app, text);
    }
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    app.exit(e, out, err);  // what brokerd prints
    return 0;
  }
  FUZZ_CHECK(flags.durability == "sync" || flags.durability == "async");
  const std::string& level = flags.log_level;
  FUZZ_CHECK(level == "trace" || level == "debug" || level == "info" || level == "warn" ||
             level == "error");
  const broker::Options options = brokerd::BrokerOptions(flags);
  FUZZ_CHECK(options.limits.max_message_bytes == flags.max_message_bytes);
  return 0;
}
