// BenchTarget: where a workload runs, in-process (an embedded broker opened from BrokerFlags) or
// against brokerd over gRPC (--addr host:port), behind the client library's Transport and Client,
// so the same workload code measures both.
//
// Thread safety: Transport and Client are thread-safe; the target itself is set up once.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "bench_broker.h"
#include "broker/broker.h"
#include "broker/client/client.h"
#include "broker/client/transport.h"

namespace brokerbench {

struct TargetFlags {
  BrokerFlags broker;
  // brokerd's address; empty: the embedded engine.
  std::string addr;
  std::string token;
  // gRPC: separate TCP connections the workload's streams are spread over (round robin).
  unsigned connections = 1;
};

// Adds --addr and --token next to the embedded broker's flags.
void AddTargetFlags(CLI::App& command, TargetFlags& flags);

class BenchTarget {
 public:
  static broker::Result<std::unique_ptr<BenchTarget>> Open(const TargetFlags& flags);
  ~BenchTarget();

  // "in_process" or "grpc".
  const std::string& mode() const { return mode_; }
  // A new transport to the same broker. Over gRPC, transport `index` uses connection
  // index % --connections (transports on one connection share it, as gRPC multiplexes calls).
  broker::Result<std::unique_ptr<broker::client::Transport>> NewTransport(unsigned index = 0) const;
  std::unique_ptr<broker::client::Client> NewClient() const;
  // The embedded broker, or nullptr over gRPC.
  broker::Broker* embedded() const { return broker_.get(); }
  // The embedded broker's data directory: --data-dir, or the run's own (deleted with the target).
  const std::string& data_dir() const { return data_dir_; }
  // Makes batched ack persistence happen now where the target allows it (embedded).
  void FlushAcks() const;

 private:
  TargetFlags flags_;
  std::string mode_;
  std::string data_dir_;
  bool owns_data_dir_ = false;  // created for this run: deleted after the broker closes
  std::unique_ptr<broker::Broker> broker_;
};

}  // namespace brokerbench
