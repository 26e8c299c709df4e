// Helpers for the client library's unit tests: a scratch directory, and a Transport fake that
// records what the Client sends and lets a test play the broker's part (replies, lost inboxes).
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "broker/client/transport.h"

namespace broker::client::testing {

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> next{0};
    path_ = std::filesystem::temp_directory_path() /
            ("broker-client-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(next.fetch_add(1)));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// What the fake transport saw and how it answers. Shared between the test and the transport.
struct FakeBroker {
  std::mutex mu;
  std::vector<std::pair<std::string, Message>> published;  // (topic, message)
  Status publish_status;                                   // non-OK: publishes fail with it
  Result<bool> has_subscribers = true;
  int inboxes_opened = 0;
  // Set: publishes are answered only by the test (ReleaseHeld), with publish_status.
  bool hold_publishes = false;
  std::vector<std::function<void()>> held;
  // Valid: OpenInbox tells `opening`, then waits for it (a slow round trip to brokerd).
  std::shared_future<void> open_gate;
  std::promise<void> opening;
  Broker::ReplyHandler deliver_reply;      // the open inbox's handler
  std::function<void(Status)> lose_inbox;  // its on_closed

  std::vector<std::pair<std::string, Message>> Published() {
    std::lock_guard lock(mu);
    return published;
  }
  // Answers the held publishes.
  void ReleaseHeld() {
    std::vector<std::function<void()>> answers;
    {
      std::lock_guard lock(mu);
      answers.swap(held);
    }
    for (auto& answer : answers) answer();
  }
};

class FakeInbox final : public Inbox {
 public:
  explicit FakeInbox(std::string address) : address_(std::move(address)) {}
  const std::string& address() const override { return address_; }

 private:
  std::string address_;
};

class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeBroker> broker) : broker_(std::move(broker)) {}

  void Publish(std::string_view topic, std::vector<Message> messages,
               const PublishOptions& options, PublishCallback done) override {
    if (options.require_subscribers) {  // as the broker does: checked first, nothing appended
      Result<bool> present = false;
      {
        std::lock_guard lock(broker_->mu);
        present = broker_->has_subscribers;
      }
      if (!present.ok()) return done(present.status());
      if (!*present) return done(Status::NoRespondersFor(topic));
    }
    std::vector<PublishResult> results;
    Status status;
    {
      std::lock_guard lock(broker_->mu);
      status = broker_->publish_status;
      for (Message& m : messages) {
        results.push_back({PartitionId(0), Offset(broker_->published.size()), false});
        broker_->published.emplace_back(std::string(topic), std::move(m));
      }
      if (broker_->hold_publishes) {
        broker_->held.push_back([done = std::move(done), results, status]() mutable {
          if (status.ok()) {
            done(std::move(results));
          } else {
            done(status);
          }
        });
        return;
      }
    }
    if (status.ok()) {
      done(std::move(results));
    } else {
      done(status);
    }
  }
  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view, std::string_view,
                                                  const SubscribeOptions&) override {
    return Status(StatusCode::kUnimplemented, "the fake transport does not subscribe");
  }
  Result<std::unique_ptr<Inbox>> OpenInbox(Broker::ReplyHandler on_reply,
                                           std::function<void(Status)> on_closed) override {
    std::shared_future<void> gate;
    {
      std::lock_guard lock(broker_->mu);
      gate = broker_->open_gate;
    }
    if (gate.valid()) {
      broker_->opening.set_value();
      gate.wait();
    }
    std::lock_guard lock(broker_->mu);
    broker_->deliver_reply = std::move(on_reply);
    broker_->lose_inbox = std::move(on_closed);
    ++broker_->inboxes_opened;
    return std::unique_ptr<Inbox>(
        std::make_unique<FakeInbox>("inbox-" + std::to_string(broker_->inboxes_opened)));
  }
  Status SendReply(std::string_view, Message) override { return Status::Ok(); }
  Result<bool> HasSubscribers(std::string_view) override {
    std::lock_guard lock(broker_->mu);
    return broker_->has_subscribers;
  }

 private:
  std::shared_ptr<FakeBroker> broker_;
};

}  // namespace broker::client::testing
