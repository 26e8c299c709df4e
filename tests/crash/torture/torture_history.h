// TortureHistory: everything the clients of the crash torture observed, in the order they observed
// it: publishes acknowledged (and how), deliveries with their attempt, settles and their answers,
// and when brokerd was killed. The checker compares it with what the data directory holds.
//
// Thread safety: every method may be called from any thread; readers take a snapshot after the
// writers have stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "broker/broker.h"

namespace broker::torture {

using SteadyTime = std::chrono::steady_clock::time_point;

struct PublishRecord {
  bool acknowledged = false;
  PublishResult result;             // valid if acknowledged
  uint32_t calls = 0;               // publish calls that carried this message
  uint32_t failed_calls = 0;        // of which failed (unavailable, deadline, ...)
  bool answered_duplicate = false;  // acknowledged by the dedupe window (a retry)
  SteadyTime acknowledged_at;
};

struct DeliveryEvent {
  std::string group;
  std::string member;
  std::string id;
  PartitionId partition;
  Offset offset;
  uint32_t attempt = 0;
  SteadyTime at;
};

enum class SettleKind { kAck, kNack, kReject };

struct SettleEvent {
  std::string group;
  std::string id;
  uint32_t attempt = 0;
  SettleKind kind = SettleKind::kAck;
  SteadyTime started;   // before the call
  SteadyTime answered;  // after it returned
  StatusCode code = StatusCode::kOk;
};

class TortureHistory {
 public:
  void PublishCall(const std::vector<std::string>& ids);
  // `results` in the order of `ids` when ok.
  void PublishAnswer(const std::vector<std::string>& ids,
                     const Result<std::vector<PublishResult>>& answer);
  void Delivered(DeliveryEvent event);
  void Settled(SettleEvent event);
  void BrokerKilled(SteadyTime at);

  // Snapshots.
  std::map<std::string, PublishRecord> publishes() const;
  std::vector<DeliveryEvent> deliveries() const;
  std::vector<SettleEvent> settles() const;
  std::vector<SteadyTime> kills() const;
  // Acknowledged publishes so far.
  uint64_t acknowledged() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, PublishRecord> publishes_;  // guarded by mu_
  std::vector<DeliveryEvent> deliveries_;           // guarded by mu_, in observation order
  std::vector<SettleEvent> settles_;                // guarded by mu_
  std::vector<SteadyTime> kills_;                   // guarded by mu_
  uint64_t acknowledged_ = 0;                       // guarded by mu_
};

}  // namespace broker::torture
