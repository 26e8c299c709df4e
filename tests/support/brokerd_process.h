// BrokerdProcess: starts a real brokerd on a free loopback port for integration tests, learns the
// port from its "brokerd: listening on ADDR" line, and stops it by PID (SIGTERM, or SIGKILL for
// crash tests). A thread reads brokerd's output all the time: a pipe nobody reads fills up (64 KiB)
// and then blocks brokerd's next log line, with whatever lock its logger holds (seen in
// tests/integration/disk: refused publishes are logged, and brokerd stopped answering).
//
// Thread safety: one thread uses the object; the output reader is internal.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace broker::testing {

class BrokerdProcess {
 public:
  // The brokerd binary: $BROKERD_BIN, else the path baked in at build time.
  static std::string BinaryPath();

  // Starts brokerd with --data-dir `data_dir` --listen `listen` plus `extra_args`, and waits
  // (up to `timeout`) for it to listen. Returns nullopt (with `error` set) if it exits or does not
  // listen in time. Restart tests pass the address of the previous run as `listen`.
  static std::optional<BrokerdProcess> Start(const std::string& data_dir,
                                             const std::vector<std::string>& extra_args,
                                             std::string* error,
                                             std::chrono::milliseconds timeout =
                                                 std::chrono::seconds(20),
                                             const std::string& listen = "127.0.0.1:0");

  // Runs brokerd with exactly `args` (no --data-dir or --listen added) until it exits, for tests of
  // what makes it refuse to start. Returns its exit status (-1 if it did not exit within
  // `timeout`: it is then killed) and sets `output` to what it wrote.
  static int RunToExit(const std::vector<std::string>& args, std::string* output,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

  BrokerdProcess(BrokerdProcess&& other) noexcept;
  BrokerdProcess& operator=(BrokerdProcess&& other) noexcept;
  ~BrokerdProcess();  // SIGKILL if still running

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  // Everything brokerd wrote to stdout and stderr so far (after Stop/Kill: all of it).
  std::string Output();
  // Waits up to `timeout_ms` for brokerd to write something new (0: no waiting); the output is
  // read all the time anyway, so this is only a way to wait for it.
  void Drain(int timeout_ms);

  // SIGTERM, wait for exit; returns the exit status (-1 if it did not exit within `timeout`).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // SIGKILL and reap.
  void Kill();

 private:
  struct OutputReader;
  BrokerdProcess() = default;
  // Forks and execs brokerd with `args` (after the binary), its output read by `output_`.
  static std::optional<BrokerdProcess> Spawn(const std::vector<std::string>& args,
                                             std::string* error);
  int Reap(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  std::unique_ptr<OutputReader> output_;  // null only in a moved-from object
  std::string address_;
};

}  // namespace broker::testing
