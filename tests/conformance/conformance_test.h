// The base fixture of every conformance suite, the suites themselves, and the macro a transport's
// test binary uses to run them all against its TransportFixture.
//
// Bodies get a fresh Client (client()), make more with NewClient(), and name topics with Topic() so
// they never collide, even on a broker shared between tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/client/client.h"
#include "test_sync.h"
#include "transport_fixture.h"

namespace broker {

// gtest prints these readably on failure.
inline void PrintTo(StatusCode code, std::ostream* os) { *os << StatusCodeName(code); }
inline void PrintTo(const Status& status, std::ostream* os) { *os << status.ToString(); }

namespace conformance {

using std::chrono::milliseconds;
using testing::Eventually;
using testing::Gate;
using testing::kWait;
using testing::Recorder;
using testing::SimulatedWork;
using testing::StatsReach;

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

#define CONFORMANCE_ASSERT_OK(expr)                                           \
  do {                                                                        \
    const auto& conformance_ok_value_ = (expr);                               \
    ASSERT_TRUE(conformance_ok_value_.ok())                                   \
        << ::broker::conformance::StatusOf(conformance_ok_value_).ToString(); \
  } while (false)

// The value of `r`, or an exception with its status, which gtest reports as a failure of the test.
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) throw std::runtime_error("unexpected error: " + r.status().ToString());
  return std::move(r).value();
}

// Group settings for fast, exact retries: `backoff` between attempts (no growth, no jitter).
GroupConfig FastRetry(uint32_t max_deliveries = 5, milliseconds backoff = milliseconds(20));

// Header `name` of `headers` (the first one), or "" if absent.
std::string HeaderOr(const Headers& headers, std::string_view name);

class ConformanceTest : public ::testing::TestWithParam<TransportParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  client::Client& client() { return *client_; }
  std::unique_ptr<client::Client> NewClient(client::ClientOptions options = {});
  Broker* admin() { return fixture_->admin(); }
  // Handlers' slow work; stopped first thing in TearDown.
  SimulatedWork& work() { return work_; }
  // The attempt number a message delivered with `attempt` and released unhandled comes back with.
  uint32_t AttemptAfterRelease(uint32_t attempt) const {
    return fixture_->release_restores_attempt() ? attempt : attempt + 1;
  }

  // "<base>-<test name>-<n>": a valid topic (or group) name no other test uses.
  std::string Topic(std::string_view base);

  // Subscribes a fresh group to the dead-letter topic of (`topic`, `group`) and returns the first
  // `count` dead letters, or fewer if `timeout` passes first.
  std::vector<client::ReceivedMessage> ReadDeadLetters(const std::string& topic,
                                                       const std::string& group, size_t count,
                                                       milliseconds timeout = kWait);

 private:
  SimulatedWork work_;
  std::unique_ptr<TransportFixture> fixture_;
  std::unique_ptr<client::Client> client_;
  int next_name_ = 0;
};

// One suite per area, so results read by area.
class PublishConformance : public ConformanceTest {};
class SubscribeConformance : public ConformanceTest {};
class ManualConformance : public ConformanceTest {};
class FlowControlConformance : public ConformanceTest {};
class ShutdownConformance : public ConformanceTest {};
class RequestReplyConformance : public ConformanceTest {};
class PropagationConformance : public ConformanceTest {};
class IdempotentConformance : public ConformanceTest {};
class MisuseConformance : public ConformanceTest {};
class LeaseConformance : public ConformanceTest {};

std::string TransportName(const ::testing::TestParamInfo<TransportParam>& info);

}  // namespace conformance
}  // namespace broker

// Runs every conformance suite against `param` (a TransportParam). Use inside
// namespace broker::conformance.
#define BROKER_INSTANTIATE_CONFORMANCE_SUITES(param)                                               \
  INSTANTIATE_TEST_SUITE_P(Transport, PublishConformance, ::testing::Values(param),                \
                           TransportName);                                                         \
  INSTANTIATE_TEST_SUITE_P(Transport, SubscribeConformance, ::testing::Values(param),              \
                           TransportName);                                                         \
  INSTANTIATE_TEST_SUITE_P(Transport, ManualConformance, ::testing::Values(param), TransportName); \
  INSTANTIATE_TEST_SUITE_P(Transport, FlowControlConformance, ::testing::Values(param),            \
                           TransportName);                                                         \
  INSTANTIATE_TEST_SUITE_P(Transport, ShutdownConformance, ::testing::Values(param),               \
                           TransportName);                                                         \
  INSTANTIATE_TEST_SUITE_P(Transport, RequestReplyConformance, ::testing::Values(param),           \
                           TransportName);                                                         \
  INSTANTIATE_TEST_SUITE_P(Transport, PropagationConformance, ::testing::Values(param),            \
                           TransportName);                                                         \
  INSTANTIATE_TEST_SUITE_P(Transport, IdempotentConformance, ::testing::Values(param),             \
                           TransportName);                                                         \
  INSTANTIATE_TEST_SUITE_P(Transport, MisuseConformance, ::testing::Values(param), TransportName); \
  INSTANTIATE_TEST_SUITE_P(Transport, LeaseConformance, ::testing::Values(param), TransportName)
