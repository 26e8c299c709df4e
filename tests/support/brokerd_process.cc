#include "brokerd_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace broker::testing {

std::string BrokerdProcess::BinaryPath() {
  if (const char* env = std::getenv("BROKERD_BIN")) return env;
  return BROKERD_BINARY;
}

std::optional<BrokerdProcess> BrokerdProcess::Start(const std::string& data_dir,
                                                    const std::vector<std::string>& extra_args,
                                                    std::string* error,
                                                    std::chrono::milliseconds timeout,
                                                    const std::string& listen) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return std::nullopt;
  }
  std::vector<std::string> args = {BinaryPath(), "--data-dir", data_dir, "--listen", listen};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return std::nullopt;
  }
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  BrokerdProcess process;
  process.pid_ = pid;
  process.output_fd_ = pipe_fds[0];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string marker = "brokerd: listening on ";
  while (std::chrono::steady_clock::now() < deadline) {
    process.Drain(100);
    auto at = process.output_.find(marker);
    if (at != std::string::npos) {
      auto end = process.output_.find('\n', at);
      if (end != std::string::npos) {
        process.address_ = process.output_.substr(at + marker.size(), end - at - marker.size());
        return process;
      }
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      process.pid_ = -1;
      process.Drain(0);
      *error = "brokerd exited before listening: " + process.output_;
      return std::nullopt;
    }
  }
  *error = "brokerd did not listen within the timeout: " + process.output_;
  return std::nullopt;  // the destructor kills it
}

BrokerdProcess::BrokerdProcess(BrokerdProcess&& other) noexcept { *this = std::move(other); }

BrokerdProcess& BrokerdProcess::operator=(BrokerdProcess&& other) noexcept {
  std::swap(pid_, other.pid_);
  std::swap(output_fd_, other.output_fd_);
  std::swap(output_, other.output_);
  std::swap(address_, other.address_);
  return *this;
}

BrokerdProcess::~BrokerdProcess() {
  if (pid_ > 0) Kill();
  if (output_fd_ >= 0) close(output_fd_);
}

void BrokerdProcess::Drain(int timeout_ms) {
  if (output_fd_ < 0) return;
  pollfd pfd{output_fd_, POLLIN, 0};
  while (poll(&pfd, 1, timeout_ms) > 0) {
    char buf[4096];
    const ssize_t n = read(output_fd_, buf, sizeof(buf));
    if (n <= 0) {
      close(output_fd_);
      output_fd_ = -1;
      return;
    }
    output_.append(buf, static_cast<size_t>(n));
    timeout_ms = 0;
  }
}

std::string BrokerdProcess::Output() {
  Drain(0);
  return output_;
}

int BrokerdProcess::Reap(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      Drain(0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    Drain(10);  // waits on brokerd's output, at most 10 ms, while it exits
  }
  return -1;
}

int BrokerdProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  return Reap(timeout);
}

void BrokerdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  Reap(std::chrono::seconds(30));
}

}  // namespace broker::testing
