// Helpers shared by the delivery-layer tests: a fixture owning a broker on a FakeClock, short
// wrappers for publishing, subscribing and polling, and readable failure output.
//
// Wrappers that need a value use Must(), which throws on a failed Status: GoogleTest reports the
// exception (with the status text) as a failure of the running test, and the test stops there.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/broker.h"
#include "broker/delivery.h"
#include "broker/options.h"
#include "broker/status.h"
#include "broker/testing/fake_clock.h"
#include "broker/types.h"

namespace broker {

// gtest prints these on failure instead of raw bytes.
template <typename Tag, typename Rep>
void PrintTo(const StrongInt<Tag, Rep>& v, std::ostream* os) {
  *os << v.value();
}
inline void PrintTo(StatusCode code, std::ostream* os) { *os << StatusCodeName(code); }
inline void PrintTo(MessageStatus status, std::ostream* os) { *os << MessageStatusName(status); }

namespace testing {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

#define DELIVERY_ASSERT_OK(expr)                                     \
  do {                                                               \
    const auto& delivery_ok_value_ = (expr);                         \
    ASSERT_TRUE(delivery_ok_value_.ok())                             \
        << ::broker::testing::StatusOf(delivery_ok_value_).ToString(); \
  } while (false)
#define DELIVERY_EXPECT_OK(expr)                                     \
  do {                                                               \
    const auto& delivery_ok_value_ = (expr);                         \
    EXPECT_TRUE(delivery_ok_value_.ok())                             \
        << ::broker::testing::StatusOf(delivery_ok_value_).ToString(); \
  } while (false)

// The value of `r`, or an exception carrying its status (reported by gtest as a test failure).
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) throw std::runtime_error("unexpected error: " + r.status().ToString());
  return std::move(r).value();
}
inline void Must(const Status& s) {
  if (!s.ok()) throw std::runtime_error("unexpected error: " + s.ToString());
}

// A group configuration with exact (jitter-free) backoff: 1 s x2 up to 5 min.
inline GroupConfig ExactConfig(Ordering ordering = Ordering::kNone) {
  GroupConfig config;
  config.ordering = ordering;
  config.backoff.jitter = 0;
  return config;
}

// The nominal (jitter-free) delay after the `attempt`-th failure under `policy`, computed
// independently of the engine: initial * multiplier^(attempt-1), capped at max.
inline microseconds NominalBackoff(const BackoffPolicy& policy, uint32_t attempt) {
  microseconds delay = policy.initial;
  for (uint32_t i = 1; i < attempt && delay < policy.max; ++i) {
    delay = microseconds(static_cast<int64_t>(static_cast<double>(delay.count()) * policy.multiplier));
  }
  return std::min<microseconds>(delay, policy.max);
}

// A directory under ::testing::TempDir() unique to this process and object; removed on
// destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("broker-delivery-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter.fetch_add(1)));
    std::filesystem::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// A fixture owning one broker: in memory, no background thread, time from clock_.
class DeliveryTest : public ::testing::Test {
 protected:
  static constexpr std::string_view kTopic = "orders";
  static constexpr std::string_view kGroup = "billing";

  DeliveryTest() { Open(); }

  Options TestOptions() const {
    Options options;
    options.data_dir = "delivery-test";
    options.in_memory = true;
    options.background_work = false;
    options.clock = clock_;
    return options;
  }

  void Open() { Open(TestOptions()); }
  void Open(Options options) { broker_ = Must(Broker::Open(std::move(options))); }

  Broker& broker() { return *broker_; }

  void CreateTopic(std::string_view topic, uint32_t partitions) {
    Must(broker_->CreateTopic(topic, TopicConfig{.partitions = partitions}));
  }

  PublishResult Publish(std::string_view topic, std::string payload,
                        std::optional<std::string> key = std::nullopt, Headers headers = {}) {
    return Must(broker_->Publish(
        topic, Message{.key = std::move(key), .payload = std::move(payload), .headers = headers}));
  }

  std::unique_ptr<Subscription> Subscribe(std::string_view topic, std::string_view group,
                                          std::string member, uint32_t max_in_flight = 256,
                                          GroupConfig config = ExactConfig()) {
    SubscribeOptions options;
    options.member = std::move(member);
    options.max_in_flight = max_in_flight;
    options.group = config;
    return Must(broker_->Subscribe(topic, group, options));
  }

  // Polls without waiting.
  static std::vector<Delivery> Poll(Subscription& sub, size_t max = 1000) {
    return Must(sub.Poll(max, milliseconds(0)));
  }

  // Polls without waiting and expects exactly one delivery.
  static Delivery PollOne(Subscription& sub) {
    auto got = Poll(sub, 1);
    if (got.size() != 1) {
      throw std::runtime_error("expected one delivery, got " + std::to_string(got.size()));
    }
    return std::move(got[0]);
  }

  // The state of (topic, partition, offset) in `group`.
  MessageGroupState StateIn(std::string_view topic, std::string_view group, PartitionId partition,
                            Offset offset) {
    for (MessageGroupState& state : Must(broker_->GetMessageState(topic, partition, offset))) {
      if (state.group == group) return state;
    }
    throw std::runtime_error("group '" + std::string(group) + "' missing from GetMessageState");
  }
  MessageGroupState StateOf(const PublishResult& pos) {
    return StateIn(kTopic, kGroup, pos.partition, pos.offset);
  }

  GroupInfo Describe(std::string_view topic = kTopic, std::string_view group = kGroup) {
    return Must(broker_->DescribeGroup(topic, group));
  }

  // Moves the clock and runs the delivery timers (expiry, due delays, dead-letter writes).
  void Advance(microseconds d) {
    clock_->Advance(d);
    Must(broker_->RunDeliveryTimers());
  }
  void RunTimers() { Must(broker_->RunDeliveryTimers()); }

  TimePoint Now() const { return clock_->Now(); }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Broker> broker_;
};

// A DeliveryTest whose broker keeps its data in a temp directory, so a test can close and reopen
// it (same directory, same clock) with one partition-count topic kTopic.
class OnDiskDeliveryTest : public DeliveryTest {
 protected:
  explicit OnDiskDeliveryTest(uint32_t partitions = 1) {
    Open(DiskOptions());
    CreateTopic(kTopic, partitions);
  }

  Options DiskOptions() const {
    Options options = TestOptions();
    options.in_memory = false;
    options.data_dir = dir_.path();
    return options;
  }

  // Closes the broker, then drops `subs` (which can no longer touch its state): their leases stay
  // on disk as leases, as after a crash.
  void CloseBroker(std::vector<std::unique_ptr<Subscription>*> subs = {}) {
    broker_.reset();
    for (auto* sub : subs) sub->reset();
  }
  // CloseBroker, then opens the broker again on the same directory and clock.
  void Restart(std::vector<std::unique_ptr<Subscription>*> subs = {}) {
    CloseBroker(std::move(subs));
    Open(DiskOptions());
  }

  TempDir dir_;
};

// The value of header `name` (the first one), or nullopt.
inline std::optional<std::string> HeaderValue(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

}  // namespace testing
}  // namespace broker
