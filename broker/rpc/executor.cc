#include "rpc/executor.h"

#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

namespace broker::rpc {

struct Executor::Impl {
  explicit Impl(size_t threads) : pool(threads) {}
  asio::thread_pool pool;
};

namespace {

class AsioStrand final : public Strand {
 public:
  explicit AsioStrand(asio::thread_pool& pool) : strand_(asio::make_strand(pool)) {}
  void Post(std::function<void()> task) override { asio::post(strand_, std::move(task)); }

 private:
  asio::strand<asio::thread_pool::executor_type> strand_;
};

}  // namespace

Executor::Executor(size_t threads) : impl_(std::make_unique<Impl>(threads)) {}
Executor::~Executor() { Stop(); }

void Executor::Post(std::function<void()> task) { asio::post(impl_->pool, std::move(task)); }

std::shared_ptr<Strand> Executor::MakeStrand() { return std::make_shared<AsioStrand>(impl_->pool); }

void Executor::Stop() { impl_->pool.join(); }

}  // namespace broker::rpc
