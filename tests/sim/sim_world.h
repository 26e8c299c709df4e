// SimWorld: what one simulated run owns: a data directory on a FaultFileSystem, the FakeClock,
// the broker opened on them and the members (subscriptions) the simulation holds; and the three
// ways a broker stops: a clean close, and a power loss (every write not yet synced is dropped).
//
// Thread safety: none; one simulation thread drives it.
#pragma once

#include <rocksdb/env.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/options.h"
#include "broker/testing/fake_clock.h"
#include "fault_file_system.h"

namespace broker::sim {

class SimWorld {
 public:
  // `dir` is created and removed with the world. `options` has everything but the clock and
  // data_dir, which the world sets; background work must be off (the simulation drives time).
  SimWorld(std::string dir, Options options);
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  Status Open();
  // Leaves every member, then closes the broker (it writes what it still holds).
  void Close();
  // The power goes out: nothing the broker writes from now on reaches the disk; the broker is
  // closed; every file loses what was not synced. Returns the bytes dropped. Open() next.
  uint64_t LosePower();

  Broker& broker() { return *broker_; }
  bool open() const { return broker_ != nullptr; }
  testing::FaultFileSystem& fs() { return *fs_; }
  testing::FakeClock& clock() { return *clock_; }
  const Options& options() const { return options_; }

  // Members by name; destroying one leaves the group.
  std::map<std::string, std::unique_ptr<Subscription>>& members() { return members_; }

 private:
  const std::string dir_;
  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  std::shared_ptr<testing::FaultFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  Options options_;
  std::unique_ptr<Broker> broker_;                                // closed before env_ and fs_ go
  std::map<std::string, std::unique_ptr<Subscription>> members_;  // destroyed before broker_
};

}  // namespace broker::sim
