// OrderedWriter: the one-write-at-a-time discipline of a gRPC callback stream reactor, with a
// queue. The reactor calls Enqueue from any thread and OnWriteDone from its OnWriteDone; Finish
// is deferred until queued writes are out. With a merge function, a response enqueued while
// another waits behind the write in flight may be folded into that waiting one: one frame (one
// write, one system call, one completion) instead of two, at no extra latency.
//
// Thread safety: mu_ guards the queue and flags.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <utility>

#include <grpcpp/support/status.h>

namespace broker::rpc {

template <typename Response>
class OrderedWriter {
 public:
  // `start_write(const Response*)` starts a write; `finish(status)` finishes the call.
  OrderedWriter(std::function<void(const Response*)> start_write,
                std::function<void(const grpc::Status&)> finish)
      : start_write_(std::move(start_write)), finish_(std::move(finish)) {}

  // `merge(waiting, incoming)` folds `incoming` into `waiting` (queued, not yet being written)
  // and returns true, or returns false to leave `incoming` as a frame of its own. Called under
  // the writer's mutex: it must not call back into the writer.
  using Merge = std::function<bool(Response& waiting, Response& incoming)>;
  void SetMerge(Merge merge) {
    std::lock_guard lock(mu_);
    merge_ = std::move(merge);
  }

  // False once the call is finishing (the response is dropped).
  bool Enqueue(Response response) {
    std::lock_guard lock(mu_);
    if (finishing_) return false;
    // queue_.front() is being written while writing_; anything behind it is still ours to change.
    if (merge_ && queue_.size() >= 2 && merge_(queue_.back(), response)) return true;
    queue_.push_back(std::move(response));
    if (!writing_) {
      writing_ = true;
      start_write_(&queue_.front());
    }
    return true;
  }

  // After a write completed. `ok` false: the stream is broken; finish once idle.
  void OnWriteDone(bool ok) {
    std::lock_guard lock(mu_);
    queue_.pop_front();
    if (!ok) {
      queue_.clear();
      if (!finishing_) {
        finishing_ = true;
        final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "stream broken");
      }
    }
    if (!queue_.empty()) {
      start_write_(&queue_.front());
      return;
    }
    writing_ = false;
    if (finishing_ && !finished_) {
      finished_ = true;
      finish_(final_status_);
    }
  }

  // Finishes after the queued writes (at once if none). Later calls are ignored.
  void Finish(grpc::Status status) {
    std::lock_guard lock(mu_);
    if (finishing_) {
      if (!writing_ && !finished_) {
        finished_ = true;
        finish_(final_status_);
      }
      return;
    }
    finishing_ = true;
    final_status_ = std::move(status);
    if (!writing_) {
      finished_ = true;
      finish_(final_status_);
    }
  }

 private:
  const std::function<void(const Response*)> start_write_;
  const std::function<void(const grpc::Status&)> finish_;
  std::mutex mu_;
  Merge merge_;                 // guarded by mu_
  std::deque<Response> queue_;  // guarded by mu_; front() is being written while writing_
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status final_status_;
};

}  // namespace broker::rpc
