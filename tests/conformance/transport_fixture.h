// The conformance suite's seam: every test body talks to the broker only through
// broker::client::Client, obtained from a TransportFixture. Each transport (in-process now, gRPC to
// a real brokerd process next) supplies one fixture and instantiates the suites with
// BROKER_INSTANTIATE_CONFORMANCE_SUITES (conformance_suites.h); the bodies do not change.
//
// Thread safety: a fixture is used by one test at a time; clients it hands out are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "broker/broker.h"
#include "broker/client/client.h"

namespace broker::conformance {

class TransportFixture {
 public:
  virtual ~TransportFixture() = default;

  // Called before and after each test. A fixture may start a fresh broker per test or share one;
  // tests use unique topic names either way (ConformanceTest::Topic).
  virtual void SetUp() = 0;
  virtual void TearDown() = 0;

  // A new client connected to the broker under test. Several clients may be open at once.
  virtual std::unique_ptr<client::Client> NewClient(client::ClientOptions options = {}) = 0;

  // Direct access to the broker for checks the client API does not offer (lag, dead-letter
  // listings), or nullptr when the broker runs in another process. Bodies that need it skip
  // without it; bodies that can check through a Client do so instead.
  virtual Broker* admin() = 0;

  // Why this transport cannot pass test `suite`.`test` (the suite without its "Transport/"
  // prefix, the test without its "/<transport>" suffix), or "" to run it. A transport over another
  // engine uses this for the behaviours that engine cannot match, each with the reason; the test
  // is then reported as skipped with that reason.
  virtual std::string SkipReason(std::string_view /*suite*/, std::string_view /*test*/) {
    return "";
  }

  // Whether a message the client leased and gave back unhandled (Subscription::ReleaseAttempt)
  // comes back with the same attempt number. JetStream counts every delivery, so over NATS it
  // comes back one higher (docs/scale-out.md, "Differences").
  virtual bool release_restores_attempt() const { return true; }
};

// One transport under test: its name (used in test names) and how to make its fixture.
struct TransportParam {
  std::string name;
  std::function<std::unique_ptr<TransportFixture>()> make;
};

inline void PrintTo(const TransportParam& param, std::ostream* os) { *os << param.name; }

}  // namespace broker::conformance
