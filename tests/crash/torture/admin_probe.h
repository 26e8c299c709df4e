// AdminProbe: the few admin calls (broker.v1.AdminService over gRPC) the torture and soak drivers
// make against a running brokerd: create a topic with partitions, create a group with its
// settings, and read a group's lag to wait for it to drain.
//
// Thread safety: every method may be called from any thread (gRPC stubs are thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "broker/broker.h"

namespace broker::testing {

struct GroupLagFigures {
  uint64_t backlog = 0;
  uint64_t in_flight = 0;
  uint64_t delayed = 0;
  uint64_t unsettled = 0;
  uint64_t end_offsets = 0;  // sum over partitions
  uint64_t dlq_depth = 0;
  size_t members = 0;
};

class AdminProbe {
 public:
  // The channel behind a probe is kept for the life of the process (see client/grpc: gRPC 1.51
  // must not tear down its callback queue while calls of other channels finish).
  static std::unique_ptr<AdminProbe> Connect(
      const std::string& address,
      std::chrono::milliseconds call_timeout = std::chrono::seconds(10));
  ~AdminProbe();

  Status CreateTopic(std::string_view name, uint32_t partitions);
  Status CreateGroup(std::string_view topic, std::string_view group, const GroupConfig& config);
  Result<GroupLagFigures> DescribeGroup(std::string_view topic, std::string_view group);
  // Retained records of a topic, summed over its partitions.
  Result<uint64_t> TopicRecords(std::string_view topic);

 private:
  struct Impl;
  explicit AdminProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::testing
