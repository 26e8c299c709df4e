#include "kafka/connection.h"

namespace broker::kafka {

void InFlight::Begin() {
  std::lock_guard lock(mu_);
  ++count_;
}

void InFlight::End() {
  std::lock_guard lock(mu_);
  if (--count_ == 0) idle_.notify_all();
}

void InFlight::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return count_ == 0; });
}

Connection::Connection(asio::ip::tcp::socket socket, Shared shared)
    : socket_(std::move(socket)),
      strand_(socket_.get_executor()),
      produce_strand_(asio::make_strand(shared.workers->get_executor())),
      shared_(shared) {}

void Connection::Start() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->ReadSize(); });
}

void Connection::Close(std::promise<void>* closed) {
  asio::dispatch(strand_, [self = shared_from_this(), closed] {
    self->closed_ = true;
    asio::error_code ignored;
    self->socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    self->socket_.close(ignored);
    if (closed != nullptr) closed->set_value();
  });
}

void Connection::ReadSize() {
  if (closed_ || close_after_write_) return;
  if (slots_.size() >= shared_.max_in_flight) {  // resumed by Flush
    reading_paused_ = true;
    return;
  }
  asio::async_read(socket_, asio::buffer(size_buf_),
                   [self = shared_from_this()](asio::error_code ec, size_t) {
                     if (ec || self->closed_) return self->Close();
                     uint32_t size = 0;
                     for (char c : self->size_buf_) size = (size << 8) | static_cast<uint8_t>(c);
                     // A request header alone takes 10 bytes; a negative or oversized size is
                     // not a Kafka client talking: close, as Kafka does.
                     if (size < 10 || size > self->shared_.max_request_bytes) return self->Close();
                     self->ReadBody(size);
                   });
}

void Connection::ReadBody(size_t size) {
  body_.resize(size);
  asio::async_read(socket_, asio::buffer(body_),
                   [self = shared_from_this()](asio::error_code ec, size_t) {
                     if (ec || self->closed_) return self->Close();
                     if (self->close_after_write_) return;
                     self->Dispatch(std::move(self->body_));
                     self->body_ = std::string();
                     self->ReadSize();
                   });
}

void Connection::Dispatch(std::string frame) {
  const uint64_t seq = first_seq_ + slots_.size();
  slots_.emplace_back();
  shared_.in_flight->Begin();
  // The API key is the frame's first two bytes (the frame is at least 10 bytes long).
  const bool produce = frame[0] == 0 && frame[1] == static_cast<char>(ApiKey::kProduce);
  auto handle = [self = shared_from_this(), seq, frame = std::move(frame)]() mutable {
    self->shared_.handler->Handle(std::move(frame), [self, seq](Reply reply) {
      asio::post(self->strand_, [self, seq, reply = std::move(reply)]() mutable {
        self->Complete(seq, std::move(reply));
        self->shared_.in_flight->End();
      });
    });
  };
  if (produce) {
    asio::post(produce_strand_, std::move(handle));
  } else {
    asio::post(*shared_.workers, std::move(handle));
  }
}

void Connection::Complete(uint64_t seq, Reply reply) {
  if (closed_ || close_after_write_) return;  // the slots are gone with the connection
  Slot& slot = slots_[seq - first_seq_];
  slot.ready = true;
  slot.reply = std::move(reply);
  Flush();
}

void Connection::Flush() {
  while (!slots_.empty() && slots_.front().ready) {
    Reply reply = std::move(slots_.front().reply);
    slots_.pop_front();
    ++first_seq_;
    switch (reply.kind) {
      case Reply::Kind::kRespond:
        pending_out_ += reply.frame;
        break;
      case Reply::Kind::kNoResponse:
        break;
      case Reply::Kind::kClose:
        // The responses before it are still written; then the connection closes, and nothing
        // after it is read or answered.
        close_after_write_ = true;
        slots_.clear();
        if (!write_in_progress_ && pending_out_.empty()) return Close();
        return Write();
    }
  }
  if (closed_) return;
  Write();
  if (reading_paused_ && slots_.size() < shared_.max_in_flight) {
    reading_paused_ = false;
    ReadSize();
  }
}

void Connection::Write() {
  if (write_in_progress_ || pending_out_.empty() || closed_) return;
  write_in_progress_ = true;
  writing_.swap(pending_out_);
  pending_out_.clear();
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](asio::error_code ec, size_t) {
                      self->write_in_progress_ = false;
                      self->writing_.clear();
                      if (ec) return self->Close();
                      if (self->close_after_write_ && self->pending_out_.empty()) {
                        return self->Close();
                      }
                      self->Write();
                    });
}

}  // namespace broker::kafka
