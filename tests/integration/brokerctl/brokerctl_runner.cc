#include "brokerctl_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern char** environ;

namespace broker::testing {
namespace {

struct Spawned {
  pid_t pid = -1;
  int in_fd = -1;
  int out_fd = -1;
  int err_fd = -1;
};

// The current environment without BROKER_* (so a developer's settings never leak into tests),
// with `extra` added or replacing a variable of the same name (e.g. PATH).
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "BROKER_", 7) == 0) continue;
    const std::string_view entry(*e);
    if (extra.contains(std::string(entry.substr(0, entry.find('='))))) continue;
    env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

Spawned Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return {};
  }
  std::vector<std::string> env_strings = ChildEnvironment(env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings = args;
  std::vector<char*> argv;
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    if (errno == ENOENT) execvpe(argv[0], argv.data(), envp.data());  // e.g. "openssl"
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  return {pid, in[1], out[0], err[0]};
}

// Reads whatever is available on `fds` into `sinks` for up to `timeout_ms`; closes (and sets to
// -1) fds at EOF.
void ReadAvailable(int* fds[2], std::string* sinks[2], int timeout_ms) {
  pollfd pfds[2];
  int n = 0;
  int map[2];
  for (int k = 0; k < 2; ++k) {
    if (*fds[k] >= 0) {
      pfds[n] = {*fds[k], POLLIN, 0};
      map[n++] = k;
    }
  }
  if (n == 0) return;
  if (poll(pfds, static_cast<nfds_t>(n), timeout_ms) <= 0) return;
  for (int j = 0; j < n; ++j) {
    if ((pfds[j].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const int k = map[j];
    char buf[8192];
    const ssize_t got = read(*fds[k], buf, sizeof(buf));
    if (got <= 0) {
      close(*fds[k]);
      *fds[k] = -1;
    } else {
      sinks[k]->append(buf, static_cast<size_t>(got));
    }
  }
}

int DecodeStatus(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::string BrokerctlPath() {
  if (const char* env = std::getenv("BROKERCTL_BIN")) return env;
  return BROKERCTL_BINARY;
}

CommandResult RunProgram(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         const std::string& stdin_data, std::chrono::milliseconds timeout) {
  CommandResult result;
  Spawned child = Spawn(argv, env);
  if (child.pid < 0) {
    result.err = "cannot start " + argv[0];
    return result;
  }
  // Small inputs only: the pipe buffer holds them, so writing first cannot deadlock.
  if (!stdin_data.empty()) {
    [[maybe_unused]] ssize_t written = write(child.in_fd, stdin_data.data(), stdin_data.size());
  }
  close(child.in_fd);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int* fds[2] = {&child.out_fd, &child.err_fd};
  std::string* sinks[2] = {&result.out, &result.err};
  while ((child.out_fd >= 0 || child.err_fd >= 0) && std::chrono::steady_clock::now() < deadline) {
    ReadAvailable(fds, sinks, 100);
  }
  if (child.out_fd >= 0 || child.err_fd >= 0) {  // timed out: kill it
    kill(child.pid, SIGKILL);
    int status = 0;
    waitpid(child.pid, &status, 0);
    if (child.out_fd >= 0) close(child.out_fd);
    if (child.err_fd >= 0) close(child.err_fd);
    result.err += "\n[test runner: killed after the timeout]";
    result.exit_code = -1;
    return result;
  }
  int status = 0;
  waitpid(child.pid, &status, 0);
  result.exit_code = DecodeStatus(status);
  return result;
}

CommandResult RunBrokerctl(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env,
                           const std::string& stdin_data, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {BrokerctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, env, stdin_data, timeout);
}

BackgroundBrokerctl::BackgroundBrokerctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BrokerctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  Spawned child = Spawn(argv, {});
  pid_ = child.pid;
  if (child.in_fd >= 0) close(child.in_fd);
  out_fd_ = child.out_fd;
  err_fd_ = child.err_fd;
}

BackgroundBrokerctl::~BackgroundBrokerctl() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void BackgroundBrokerctl::Drain(int timeout_ms) {
  int* fds[2] = {&out_fd_, &err_fd_};
  std::string* sinks[2] = {&out_, &err_};
  ReadAvailable(fds, sinks, timeout_ms);
}

std::string BackgroundBrokerctl::WaitForLines(size_t lines, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (static_cast<size_t>(std::count(out_.begin(), out_.end(), '\n')) < lines &&
         std::chrono::steady_clock::now() < deadline && (out_fd_ >= 0 || err_fd_ >= 0)) {
    Drain(50);  // returns as soon as output arrives
  }
  return out_;
}

std::string BackgroundBrokerctl::Errors() {
  Drain(0);
  return err_;
}

int BackgroundBrokerctl::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return DecodeStatus(status);
}

TerminalBrokerctl::TerminalBrokerctl(const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>& env) {
  std::vector<std::string> arg_strings = {BrokerctlPath()};
  arg_strings.insert(arg_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = ChildEnvironment(env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  winsize size = {};
  size.ws_row = 40;
  size.ws_col = 160;
  pid_ = forkpty(&master_fd_, nullptr, nullptr, &size);
  if (pid_ == 0) {
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
}

TerminalBrokerctl::~TerminalBrokerctl() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (master_fd_ >= 0) close(master_fd_);
}

std::string TerminalBrokerctl::WaitFor(const std::string& text, size_t times,
                                       std::chrono::milliseconds timeout) {
  auto count = [&] {
    size_t n = 0;
    for (size_t at = received_.find(text); at != std::string::npos;
         at = received_.find(text, at + text.size())) {
      ++n;
    }
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (master_fd_ >= 0 && count() < times && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd = {master_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 50) <= 0) continue;  // returns as soon as output arrives
    char buffer[4096];
    const ssize_t n = read(master_fd_, buffer, sizeof(buffer));
    if (n <= 0) break;  // EIO once the child has exited and closed the terminal
    received_.append(buffer, static_cast<size_t>(n));
  }
  return received_;
}

int TerminalBrokerctl::Interrupt(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGINT);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (std::chrono::steady_clock::now() >= deadline) return -1;  // the destructor kills it
    // Keep the terminal drained so the child never blocks writing to it while it exits.
    pollfd pfd = {master_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 20) > 0) {
      char buffer[4096];
      const ssize_t n = read(master_fd_, buffer, sizeof(buffer));
      if (n > 0) received_.append(buffer, static_cast<size_t>(n));
    }
  }
  pid_ = -1;
  return DecodeStatus(status);
}

}  // namespace broker::testing
