// Executor: the thread pool where the gRPC adapter runs engine calls that may block (on the
// writer's commit, an fsync or a RocksDB read), so gRPC reactions never block. Strands run their
// tasks one at a time, in order (one per subscription stream).
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <functional>
#include <memory>

namespace broker::rpc {

class Strand {
 public:
  virtual ~Strand() = default;
  virtual void Post(std::function<void()> task) = 0;
};

class Executor {
 public:
  explicit Executor(size_t threads);
  ~Executor();  // Stop()
  void Post(std::function<void()> task);
  std::shared_ptr<Strand> MakeStrand();
  // Runs what is queued, then joins the threads.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::rpc
