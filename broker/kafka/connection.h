// Connection: one Kafka client's TCP connection. Reads size-prefixed frames, hands each to the
// worker pool, and writes the responses back in request order. Produce requests of a connection
// are handled one after another (a strand on the pool), so their appends to a partition keep the
// order the client sent them in: an idempotent producer pipelines batches and numbers them.
//
// Thread safety: every member is touched only on the connection's strand (the socket's executor);
// Complete may be called from any thread and posts to it.
#pragma once

#include <array>
#include <asio.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "kafka/handler.h"

namespace broker::kafka {

// Counts requests in progress across all connections, so the listener can wait for them (their
// completions post to strands, which must still run) before stopping the io_context.
class InFlight {
 public:
  void Begin();
  void End();
  void WaitIdle();

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  size_t count_ = 0;  // guarded by mu_
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  struct Shared {
    RequestHandler* handler;
    asio::thread_pool* workers;
    InFlight* in_flight;
    size_t max_request_bytes;
    size_t max_in_flight;
  };

  Connection(asio::ip::tcp::socket socket, Shared shared);
  void Start();
  // Closes the socket (on the strand; `closed`, if given, is set once that has run). Requests in
  // progress still complete, and their replies are dropped.
  void Close(std::promise<void>* closed = nullptr);

 private:
  struct Slot {
    bool ready = false;
    Reply reply;
  };

  void ReadSize();
  void ReadBody(size_t size);
  void Dispatch(std::string frame);
  void Complete(uint64_t seq, Reply reply);
  void Flush();
  void Write();

  asio::ip::tcp::socket socket_;
  // The socket's strand, kept apart so that other threads post to it without touching socket_.
  const asio::any_io_executor strand_;
  // Produce requests of this connection, in order, on the worker pool.
  asio::strand<asio::thread_pool::executor_type> produce_strand_;
  const Shared shared_;
  std::array<char, 4> size_buf_{};
  std::string body_;
  std::deque<Slot> slots_;   // requests not yet answered, oldest first
  uint64_t first_seq_ = 0;   // sequence number of slots_.front()
  std::string pending_out_;  // responses ready, not yet handed to a write
  std::string writing_;      // the buffer of the write in progress
  bool write_in_progress_ = false;
  bool reading_paused_ = false;
  bool close_after_write_ = false;  // a request asked to close: write what is ready, then close
  bool closed_ = false;
};

}  // namespace broker::kafka
