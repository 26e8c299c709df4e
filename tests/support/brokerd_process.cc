#include "brokerd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace broker::testing {

// Reads brokerd's stdout and stderr (one pipe) until brokerd and every copy of the pipe's write
// end are gone.
struct BrokerdProcess::OutputReader {
  explicit OutputReader(int fd) : fd_(fd), thread_([this] { Run(); }) {}
  ~OutputReader() {
    thread_.join();  // EOF once brokerd is dead: the owner kills and reaps it first
    ::close(fd_);
  }

  std::string Text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  // Waits until the text grows past `size` bytes or the pipe closes, for at most `timeout`.
  void WaitPast(size_t size, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_ || text_.size() > size; });
  }
  void WaitClosed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_; });
  }
  size_t Size() {
    std::lock_guard lock(mu_);
    return text_.size();
  }

 private:
  void Run() {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mu_);
      if (n <= 0) {
        closed_ = true;
        cv_.notify_all();
        return;
      }
      text_.append(buf, static_cast<size_t>(n));
      cv_.notify_all();
    }
  }

  const int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;     // guarded by mu_
  bool closed_ = false;  // guarded by mu_
  std::thread thread_;   // last: starts once the members above exist
};

std::string BrokerdProcess::BinaryPath() {
  if (const char* env = std::getenv("BROKERD_BIN")) return env;
  return BROKERD_BINARY;
}

std::optional<BrokerdProcess> BrokerdProcess::Spawn(const std::vector<std::string>& arguments,
                                                    std::string* error) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error = "pipe failed";
    return std::nullopt;
  }
  std::vector<std::string> args = {BinaryPath()};
  args.insert(args.end(), arguments.begin(), arguments.end());
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
  process.output_ = std::make_unique<OutputReader>(pipe_fds[0]);
  return process;
}

int BrokerdProcess::RunToExit(const std::vector<std::string>& args, std::string* output,
                              std::chrono::milliseconds timeout) {
  auto process = Spawn(args, output);
  if (!process) return -1;
  const int status = process->Reap(timeout);
  if (status < 0) process->Kill();
  *output = process->Output();
  return status;
}

std::optional<BrokerdProcess> BrokerdProcess::Start(const std::string& data_dir,
                                                    const std::vector<std::string>& extra_args,
                                                    std::string* error,
                                                    std::chrono::milliseconds timeout,
                                                    const std::string& listen) {
  std::vector<std::string> args = {"--data-dir", data_dir, "--listen", listen};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto spawned = Spawn(args, error);
  if (!spawned) return std::nullopt;
  BrokerdProcess process = std::move(*spawned);
  const pid_t pid = process.pid_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string marker = "brokerd: listening on ";
  while (std::chrono::steady_clock::now() < deadline) {
    process.Drain(100);
    const std::string output = process.output_->Text();
    auto at = output.find(marker);
    if (at != std::string::npos) {
      auto end = output.find('\n', at);
      if (end != std::string::npos) {
        process.address_ = output.substr(at + marker.size(), end - at - marker.size());
        return process;
      }
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      process.pid_ = -1;
      process.output_->WaitClosed(std::chrono::seconds(5));
      *error = "brokerd exited before listening: " + process.output_->Text();
      return std::nullopt;
    }
  }
  *error = "brokerd did not listen within the timeout: " + process.output_->Text();
  return std::nullopt;  // the destructor kills it
}

BrokerdProcess::BrokerdProcess(BrokerdProcess&& other) noexcept { *this = std::move(other); }

BrokerdProcess& BrokerdProcess::operator=(BrokerdProcess&& other) noexcept {
  std::swap(pid_, other.pid_);
  std::swap(output_, other.output_);
  std::swap(address_, other.address_);
  return *this;
}

BrokerdProcess::~BrokerdProcess() {
  if (pid_ > 0) Kill();
  output_.reset();  // joins the reader: brokerd is gone, so its pipe reaches EOF
}

void BrokerdProcess::Drain(int timeout_ms) {
  if (!output_) return;
  output_->WaitPast(output_->Size(), std::chrono::milliseconds(timeout_ms));
}

std::string BrokerdProcess::Output() { return output_ ? output_->Text() : std::string(); }

int BrokerdProcess::Reap(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      // Output() then holds all of it: the pipe closes once brokerd's last write is read.
      if (output_) output_->WaitClosed(std::chrono::seconds(5));
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
