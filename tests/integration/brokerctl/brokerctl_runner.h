// Runs the real brokerctl binary for integration tests: arguments, extra environment and stdin
// in; exit code, stdout and stderr out. Also a background run (for `tail --follow`) whose output
// can be awaited line by line, and which is stopped by its PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace broker::testing {

struct CommandResult {
  int exit_code = -1;  // 128 + signal if killed by one
  std::string out;
  std::string err;
};

// The brokerctl binary: $BROKERCTL_BIN, else the path baked in at build time.
std::string BrokerctlPath();

// Runs brokerctl `args` with the test's environment minus BROKER_* variables, plus `env`; waits
// for it to exit (at most `timeout`; then it is killed and exit_code is -1).
CommandResult RunBrokerctl(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env = {},
                           const std::string& stdin_data = "",
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Runs any program the same way (used for openssl).
CommandResult RunProgram(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         const std::string& stdin_data, std::chrono::milliseconds timeout);

// A brokerctl left running (tail --follow). The destructor kills it (SIGKILL) and reaps it.
class BackgroundBrokerctl {
 public:
  explicit BackgroundBrokerctl(const std::vector<std::string>& args);
  ~BackgroundBrokerctl();
  BackgroundBrokerctl(const BackgroundBrokerctl&) = delete;
  BackgroundBrokerctl& operator=(const BackgroundBrokerctl&) = delete;

  // Waits until stdout holds at least `lines` complete lines or `timeout` passes; returns stdout
  // so far.
  std::string WaitForLines(size_t lines, std::chrono::milliseconds timeout);
  // Everything it wrote to stderr so far.
  std::string Errors();
  // SIGTERM and reap; returns the exit code (128 + signal).
  int Stop();

 private:
  void Drain(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
};

// brokerctl in a pseudo-terminal, as a person runs it (isatty is true, so colour and screen
// clearing are on unless NO_COLOR says otherwise). The destructor kills it (SIGKILL) and reaps it.
class TerminalBrokerctl {
 public:
  TerminalBrokerctl(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {});
  ~TerminalBrokerctl();
  TerminalBrokerctl(const TerminalBrokerctl&) = delete;
  TerminalBrokerctl& operator=(const TerminalBrokerctl&) = delete;

  // Waits until what the terminal received contains `text` at least `times` times, or `timeout`
  // passes; returns everything received so far.
  std::string WaitFor(const std::string& text, size_t times, std::chrono::milliseconds timeout);
  // SIGINT (Ctrl-C) and reap; returns the exit code (128 + signal), or -1 if it did not exit
  // within `timeout` (then it is killed).
  int Interrupt(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  int master_fd_ = -1;
  std::string received_;
};

}  // namespace broker::testing
